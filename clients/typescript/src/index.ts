/**
 * The typed client of the Kisum Artist API. Types come from the API's
 * OpenAPI document (`src/generated/`, regenerated with `npm run generate`);
 * requests go through openapi-fetch. See README.md.
 */
export { createKisumClient, ok } from "./client.js";
export type { KisumClient, KisumClientOptions, Provided } from "./client.js";
export { EtagCache } from "./etags.js";
export { all, paginate } from "./paging.js";
export type { Page } from "./paging.js";
export { ProblemError } from "./problem.js";
export type { FieldError } from "./problem.js";
export type { components, operations, paths } from "./generated/kisum-api.js";

import type { components } from "./generated/kisum-api.js";

/** The API's schemas by name: `Schema<"Offer">`. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];
