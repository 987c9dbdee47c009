// What a frontend writes against the types generated from the served
// document: requests and answers of a few SPEC routes, looked up by path
// (paths and methods are fixed by the SPEC; schema names are not).
import type { paths } from "./kisum-api";

type Json<T> = T extends { content: { "application/json": infer Body } } ? Body : never;

type CreateOffer = paths["/api/v1/offers"]["post"];
type OfferIn = Json<NonNullable<CreateOffer["requestBody"]>>;
type Offer = Json<CreateOffer["responses"][201]>;
type OfferPage = Json<paths["/api/v1/offers"]["get"]["responses"][200]>;
type HoldIn = Json<NonNullable<paths["/api/v1/holds"]["post"]["requestBody"]>>;
type Hold = Json<paths["/api/v1/holds/{id}"]["get"]["responses"][200]>;
type BookingRequestId = paths["/api/v1/booking-requests/{id}"]["get"]["parameters"]["path"]["id"];
type Me = Json<paths["/api/v1/me"]["get"]["responses"][200]>;

export const offer: OfferIn = {
  artist_id: "0190a0a0-0000-7000-8000-000000000001",
  promoter_company_id: "0190a0a0-0000-7000-8000-000000000002",
  event_date: "2027-06-12",
  venue: { name: "Paradiso", capacity: 1500 },
  deal: { type: "versus", currency: "EUR", guarantee_amount: 1_000_000, percentage: 80 },
  expires_at: "2027-05-01T12:00:00Z",
  send: true,
};

export const hold: HoldIn = {
  artist_id: offer.artist_id,
  date: offer.event_date,
  promoter_company_id: offer.promoter_company_id,
  expires_at: "2027-05-01T12:00:00Z",
};

export function describe(answer: Offer): string {
  const status: string = answer.status;
  return `${answer.id} ${status} v${answer.version}`;
}

export function open(page: OfferPage): string[] {
  const cursor: string | null | undefined = page.next_cursor;
  return page.items.map(describe).concat(cursor ? [cursor] : []);
}

export function first(held: Hold): boolean {
  return held.priority === 1;
}

export function requestPath(id: BookingRequestId): string {
  return `/api/v1/booking-requests/${id}`;
}

export function org(me: Me): string {
  return me.org_id;
}
