"""clone_spread: one code scanned on more devices or in more regions than its packaging
level allows — copies of one label in circulation.

A unit (a code no other code names as parent) may be scanned by at most unit_scanners
distinct scanners and in unit_regions distinct regions; an aggregate (a case or pallet:
some code's parent) by aggregate_scanners / aggregate_regions. One alert per code."""

NAME = "clone_spread"
SEVERITY = "high"
WINDOW = "all"
PARAMS = {"unit_scanners": 4, "unit_regions": 2, "aggregate_scanners": 12,
          "aggregate_regions": 4}
# what each parameter may be (dialect.parse_params): (lowest, highest) or a set of choices
RANGES = {"unit_scanners": (1, 1_000_000), "unit_regions": (1, 100_000),
          "aggregate_scanners": (1, 1_000_000), "aggregate_regions": (1, 100_000)}

SQL = """WITH parents AS (
  SELECT DISTINCT parent AS code FROM codes WHERE parent IS NOT NULL
),
per AS (
  SELECT code, max(product) AS product, min(region) AS region,
         count(DISTINCT scanner) AS n_scanners, count(DISTINCT region) AS n_regions,
         min(EPOCH_US(time)) AS first_us, max(EPOCH_US(time)) AS last_us
  FROM scans WHERE code IS NOT NULL AND verdict <> 'UNKNOWN' GROUP BY code
)
SELECT per.code AS subject, per.product, per.region, per.first_us, per.last_us, 0 AS win,
       per.n_scanners AS ev_scanners, per.n_regions AS ev_regions,
       CASE WHEN p.code IS NULL THEN 'unit' ELSE 'aggregate' END AS ev_level
FROM per LEFT JOIN parents p ON p.code = per.code
WHERE (p.code IS NULL AND (per.n_scanners > :unit_scanners OR per.n_regions > :unit_regions))
   OR (p.code IS NOT NULL AND (per.n_scanners > :aggregate_scanners
                               OR per.n_regions > :aggregate_regions))"""
