// The main path of the product, end to end, as the two parties would walk
// it through this client: the promoter finds an artist in the marketplace
// and asks to book them; the agency quotes, the promoter counters, the
// agency accepts and holds the date; the booking is confirmed, both sign
// the contract, the agency tours it, the promoter proposes a hotel and the
// agency approves it; both dashboards show the show; after it both rate it.
//
// Run by the Rust suite (tests/tests/api/typescript_package.rs), which
// starts the API and the worker, provisions the two parties and passes
// them in the environment:
//   KISUM_BASE_URL, KISUM_{AGENCY,PROMOTER}_{TOKEN,ORG,COMPANY},
//   KISUM_SHOW_CLOCK_URL: POST {url}/bookings/{id}/played moves the show
//   into the past, as time would (a booking is completed on or after its
//   date, and rated once completed).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ProblemError, all, createKisumClient, ok, paginate } from "../dist/index.js";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is set`);
  return value;
};

const baseUrl = env("KISUM_BASE_URL");
const agency = createKisumClient({ baseUrl, token: env("KISUM_AGENCY_TOKEN"), org: env("KISUM_AGENCY_ORG") });
const promoter = createKisumClient({ baseUrl, token: env("KISUM_PROMOTER_TOKEN"), org: env("KISUM_PROMOTER_ORG") });
const agencyCompany = env("KISUM_AGENCY_COMPANY");
const promoterCompany = env("KISUM_PROMOTER_COMPANY");

const AMSTERDAM = 2759794;
const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const inDays = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString();
const showDate = day(90);

/** Polls `check` until it returns a value: what the worker computes arrives a little later. */
async function eventually(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) {
      return value;
    }
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test("the main path, from the marketplace to the ratings", async (t) => {
  const name = `Nightingale ${crypto.randomUUID().slice(0, 8)}`;
  let artistId;
  let bookingId;

  await t.test("the agency lists an artist with a fee and a published window", async () => {
    const artist = await ok(
      agency.POST("/api/v1/artists", {
        body: { name, company_id: agencyCompany, genres: ["techno"], country: "NL" },
      }),
    );
    artistId = artist.id;
    await ok(
      agency.POST("/api/v1/artists-companies/{id}/roster", {
        params: { path: { id: agencyCompany } },
        body: { artist_id: artistId, role: "booking", territory: { worldwide: true } },
      }),
    );
    await ok(
      agency.PUT("/api/v1/artists/{id}/profile", {
        params: { path: { id: artistId } },
        body: { fee_min: 500_000, fee_max: 1_500_000, fee_currency: "EUR" },
      }),
    );
    await ok(
      agency.POST("/api/v1/artists/{id}/availabilities", {
        params: { path: { id: artistId } },
        body: { starts_on: day(80), ends_on: day(100), status: "available", territory: { worldwide: true }, published: true },
      }),
    );
  });

  await t.test("the promoter finds the artist in the marketplace", async () => {
    const found = await eventually("the marketplace to list the artist", async () => {
      const page = await ok(
        promoter.GET("/api/v1/marketplace/artists", {
          params: { query: { q: name, available_from: day(85), available_to: day(95) } },
        }),
      );
      return page.items.find((item) => item.artist_id === artistId);
    });
    assert.equal(found.name, name);
    assert.ok(found.open_dates.length > 0 || found.next_open_date, "the window is open");
  });

  let offerId;
  await t.test("the promoter asks, the agency quotes, the promoter counters, the agency accepts", async () => {
    const request = await ok(
      promoter.POST("/api/v1/booking-requests", {
        body: {
          artist_id: artistId,
          promoter_company_id: promoterCompany,
          event_date: showDate,
          venue: { name: "Paradiso", city_id: AMSTERDAM, capacity: 1500 },
          message: "Saturday headline slot?",
          wants_hold: true,
        },
      }),
    );
    assert.equal(request.status, "open");

    const incoming = await all((cursor) =>
      agency.GET("/api/v1/booking-requests", { params: { query: { role: "incoming", cursor } } }),
    );
    assert.ok(incoming.some((r) => r.id === request.id), "the agency sees the request");

    const quote = await ok(
      agency.POST("/api/v1/offers", {
        body: {
          artist_id: artistId,
          promoter_company_id: promoterCompany,
          booking_request_id: request.id,
          event_date: showDate,
          venue: { name: "Paradiso", city_id: AMSTERDAM, capacity: 1500 },
          deal: { type: "flat", currency: "EUR", guarantee_amount: 1_200_000 },
          expires_at: inDays(7),
          send: true,
        },
      }),
    );
    offerId = quote.id;
    assert.equal(quote.status, "sent");

    // The promoter reads the quote (its ETag is kept), then counters it.
    const seen = await ok(promoter.GET("/api/v1/offers/{id}", { params: { path: { id: offerId } } }));
    assert.equal(seen.written_by, "agency");
    assert.equal(promoter.etags.get(`/api/v1/offers/${offerId}`), `"${seen.version}"`);
    const countered = await ok(
      promoter.POST("/api/v1/offers/{id}/counter", {
        params: { path: { id: offerId } },
        body: { deal: { type: "flat", currency: "EUR", guarantee_amount: 1_000_000 }, note: "our budget" },
      }),
    );
    assert.equal(countered.status, "countered");

    // The agency's copy is stale now: its If-Match is refused, and a re-read fixes it.
    await assert.rejects(
      agency.POST("/api/v1/offers/{id}/accept", { params: { path: { id: offerId } } }),
      (error) => error instanceof ProblemError && error.status === 412 && error.code === "stale_version",
    );
    await ok(agency.GET("/api/v1/offers/{id}", { params: { path: { id: offerId } } }));
    const accepted = await ok(agency.POST("/api/v1/offers/{id}/accept", { params: { path: { id: offerId } } }));
    assert.equal(accepted.status, "accepted");
  });

  await t.test("the agency holds the date and the booking is confirmed", async () => {
    const hold = await ok(
      agency.POST("/api/v1/holds", {
        body: {
          artist_id: artistId,
          date: showDate,
          promoter_company_id: promoterCompany,
          offer_id: offerId,
          expires_at: inDays(5),
        },
      }),
    );
    assert.equal(hold.priority, 1);

    // Confirming twice with one idempotency key is one booking.
    const key = crypto.randomUUID();
    const confirm = () =>
      ok(promoter.POST("/api/v1/bookings", { params: { header: { "Idempotency-Key": key } }, body: { offer_id: offerId } }));
    const booking = await confirm();
    const again = await confirm();
    assert.equal(again.id, booking.id);
    assert.equal(booking.status, "confirmed");
    assert.equal(booking.hold_id, hold.id);
    bookingId = booking.id;

    // A read right after the write carries the write's consistency token.
    assert.ok(promoter.consistencyToken, "the write answered a consistency token");
    const mine = await all((cursor) => promoter.GET("/api/v1/bookings", { params: { query: { cursor } } }));
    assert.ok(mine.some((b) => b.id === bookingId), "the promoter's list shows its own write at once");
  });

  await t.test("both sign the contract", async () => {
    const template = await ok(
      agency.POST("/api/v1/artists-companies/{id}/contract-templates", {
        params: { path: { id: agencyCompany } },
        body: { name: "Performance agreement", starter: "performance_agreement" },
      }),
    );
    const draft = await ok(
      agency.POST("/api/v1/bookings/{id}/contracts", {
        params: { path: { id: bookingId } },
        body: {
          template_id: template.id,
          title: "Paradiso show",
          signers: [
            { name: "Pia Promoter", email: "pia@promoter.test", party: "promoter" },
            { name: "Aga Agent", email: "aga@agency.test", party: "agency" },
          ],
        },
      }),
    );
    assert.equal(draft.status, "draft");
    const sent = await ok(agency.POST("/api/v1/contracts/{id}/send", { params: { path: { id: draft.id } } }));
    assert.equal(sent.status, "out_for_signature");

    for (const [client, party, typed] of [
      [promoter, "promoter", "Pia Promoter"],
      [agency, "agency", "Aga Agent"],
    ]) {
      // Each signs what it has just read: the hash of that version.
      const contract = await ok(client.GET("/api/v1/contracts/{id}", { params: { path: { id: draft.id } } }));
      const signer = contract.signers.find((s) => s.party === party);
      await ok(
        client.POST("/api/v1/contracts/{id}/signers/{signer_id}/sign", {
          params: { path: { id: draft.id, signer_id: signer.id } },
          body: {
            typed_name: typed,
            consent_statement: contract.consent_statement,
            content_sha256: contract.content_sha256,
          },
        }),
      );
    }
    const signed = await ok(promoter.GET("/api/v1/contracts/{id}", { params: { path: { id: draft.id } } }));
    assert.equal(signed.status, "signed");
  });

  await t.test("the agency tours the booking", async () => {
    const tour = await ok(
      agency.POST("/api/v1/tours", { body: { artist_id: artistId, company_id: agencyCompany, name: "Spring run" } }),
    );
    const stop = await ok(
      agency.POST("/api/v1/tours/{id}/stops", {
        params: { path: { id: tour.id } },
        body: { kind: "show", booking_id: bookingId },
      }),
    );
    assert.equal(stop.date, showDate);
    const routing = await ok(agency.GET("/api/v1/tours/{id}/routing", { params: { path: { id: tour.id } } }));
    assert.ok(Array.isArray(routing.warnings));
  });

  await t.test("the promoter proposes a hotel and the agency approves it", async () => {
    const proposal = await ok(
      promoter.POST("/api/v1/bookings/{id}/logistics-proposals", {
        params: { path: { id: bookingId } },
        body: {
          section: "hotel",
          content: {
            name: "Hotel Arena",
            address: "'s-Gravesandestraat 55",
            check_in: showDate,
            check_out: day(91),
            rooms: [{ room_type: "double", count: 3, guest_names: [] }],
          },
          note: "close to the venue",
        },
      }),
    );
    assert.equal(proposal.status, "submitted");
    const proposals = await all((cursor) =>
      agency.GET("/api/v1/bookings/{id}/logistics-proposals", {
        params: { path: { id: bookingId }, query: { cursor } },
      }),
    );
    assert.ok(proposals.some((p) => p.id === proposal.id), "the agency sees the proposal");
    await ok(agency.GET("/api/v1/logistics-proposals/{id}", { params: { path: { id: proposal.id } } }));
    const approved = await ok(
      agency.POST("/api/v1/logistics-proposals/{id}/approve", { params: { path: { id: proposal.id } } }),
    );
    assert.equal(approved.status, "approved");
    const sheet = await ok(promoter.GET("/api/v1/bookings/{id}/logistics", { params: { path: { id: bookingId } } }));
    assert.equal(sheet.sheet.hotel.name, "Hotel Arena");
  });

  await t.test("both dashboards show the booking", async () => {
    await eventually("the agency dashboard to show the booking", async () => {
      const board = await ok(agency.GET("/api/v1/dashboards/agency"));
      return board.upcoming_bookings.some((b) => b.booking_id === bookingId);
    });
    await eventually("the promoter dashboard to show the booking", async () => {
      const board = await ok(promoter.GET("/api/v1/dashboards/promoter"));
      return board.upcoming_bookings.some((b) => b.booking_id === bookingId);
    });
  });

  await t.test("after the show, each party rates the other once", async () => {
    await assert.rejects(
      promoter.POST("/api/v1/bookings/{id}/ratings", { params: { path: { id: bookingId } }, body: { overall: 5 } }),
      (error) => error instanceof ProblemError && error.status === 409 && error.code === "booking_not_completed",
    );
    const played = await fetch(`${env("KISUM_SHOW_CLOCK_URL")}/bookings/${bookingId}/played`, { method: "POST" });
    assert.equal(played.status, 204);

    await ok(agency.GET("/api/v1/bookings/{id}", { params: { path: { id: bookingId } } }));
    const completed = await ok(agency.POST("/api/v1/bookings/{id}/complete", { params: { path: { id: bookingId } } }));
    assert.equal(completed.status, "completed");

    const fromAgency = await ok(
      agency.POST("/api/v1/bookings/{id}/ratings", {
        params: { path: { id: bookingId } },
        body: { overall: 5, hospitality: 5, payment: 4, comment: "Smooth load-in" },
      }),
    );
    assert.equal(fromAgency.rater_side, "agency");
    const fromPromoter = await ok(
      promoter.POST("/api/v1/bookings/{id}/ratings", {
        params: { path: { id: bookingId } },
        body: { overall: 4, communication: 5 },
      }),
    );
    assert.equal(fromPromoter.rater_side, "promoter");
    await assert.rejects(
      promoter.POST("/api/v1/bookings/{id}/ratings", { params: { path: { id: bookingId } }, body: { overall: 1 } }),
      (error) => error instanceof ProblemError && error.code === "rating_exists",
    );

    // The agency's memory of the promoter counts the show and both ratings.
    await eventually("the relationship to count the ratings", async () => {
      for await (const row of paginate((cursor) => agency.GET("/api/v1/relationships", { params: { query: { cursor } } }))) {
        if (row.counterparty_id === promoterCompany) {
          return row.bookings_completed === 1 && row.ratings_given === 1 && row.ratings_received === 1;
        }
      }
      return false;
    });
  });
});
