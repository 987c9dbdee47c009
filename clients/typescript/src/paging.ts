/** A page of a list route: `{items, next_cursor}`. */
export interface Page<Item> {
  items: Item[];
  next_cursor?: string | null;
}

/**
 * Every item of a paged list, fetching pages as the loop asks for them.
 * `fetchPage` gets the cursor to send (`undefined` for the first page):
 *
 * ```ts
 * for await (const offer of paginate((cursor) =>
 *   kisum.GET("/api/v1/offers", { params: { query: { cursor, limit: 200 } } }),
 * )) { ... }
 * ```
 *
 * Pages neither repeat nor skip rows (keyset pagination), so a loop may
 * stop early and resume later from the cursor of the page it stopped in.
 */
export async function* paginate<Item>(
  fetchPage: (cursor: string | undefined) => Promise<{ data?: Page<Item>; response: Response }>,
): AsyncGenerator<Item, void, undefined> {
  let cursor: string | undefined;
  do {
    const { data } = await fetchPage(cursor);
    if (data === undefined) {
      return;
    }
    yield* data.items;
    cursor = data.next_cursor ?? undefined;
  } while (cursor !== undefined);
}

/** Every item of a paged list, collected (for lists known to be short). */
export async function all<Item>(
  fetchPage: (cursor: string | undefined) => Promise<{ data?: Page<Item>; response: Response }>,
): Promise<Item[]> {
  const items: Item[] = [];
  for await (const item of paginate(fetchPage)) {
    items.push(item);
  }
  return items;
}
