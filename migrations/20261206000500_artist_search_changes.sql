-- Where each artist's marketplace entry last changed: the transaction id
-- of the statement that wrote or removed its `artist_search` row. API
-- replicas keep a search index of `artist_search` and follow it by
-- reading the entries whose transaction their last snapshot did not see
-- (`pg_visible_in_snapshot`), which is commit-ordered where a sequence is
-- not. One row per artist, rewritten in place, so it never grows past the
-- artists; no foreign key, so a removed artist's entry stays to be seen.
CREATE TABLE artist_search_changes (
    artist_id  uuid PRIMARY KEY,
    change_xid xid8 NOT NULL DEFAULT pg_current_xact_id()
);

CREATE INDEX artist_search_changes_xid_idx ON artist_search_changes (change_xid);

-- Every write of `artist_search` (the refresh, the rebuild, a cascade
-- from a deleted artist) records its artists and wakes the followers
-- (delivered at commit). Statement triggers over the transition table:
-- one upsert per statement, not one per row.
CREATE FUNCTION artist_search_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO artist_search_changes (artist_id, change_xid)
    SELECT artist_id, pg_current_xact_id() FROM changed_rows GROUP BY artist_id ORDER BY artist_id
    ON CONFLICT (artist_id) DO UPDATE SET change_xid = excluded.change_xid;
    PERFORM pg_notify('artist_search_changed', '');
    RETURN NULL;
END $$;

CREATE TRIGGER artist_search_inserted AFTER INSERT ON artist_search
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION artist_search_changed();
CREATE TRIGGER artist_search_updated AFTER UPDATE ON artist_search
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION artist_search_changed();
CREATE TRIGGER artist_search_deleted AFTER DELETE ON artist_search
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION artist_search_changed();

INSERT INTO artist_search_changes (artist_id) SELECT artist_id FROM artist_search;
