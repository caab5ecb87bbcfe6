# Seconds since 1970 -> RFC 3339 UTC ("2026-08-03T18:38:27Z"), for dockerTools' `created`.
# Nix has no date functions; this is the civil-from-days algorithm of Howard Hinnant's
# "chrono-Compatible Low-Level Date Algorithms". Plain Nix without nixpkgs, so `cargo xtask ci`
# evaluates it with a bare Nix and compares it with the native builder's formatting.
secs:
let
  mod = a: b: a - (a / b) * b;
  pad = n: if n < 10 then "0${toString n}" else toString n;
  days = secs / 86400;
  rem = mod secs 86400;
  z = days + 719468;
  era = z / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = if mp < 10 then mp + 3 else mp - 9;
  year = yoe + era * 400 + (if month <= 2 then 1 else 0);
in
"${toString year}-${pad month}-${pad day}T${pad (rem / 3600)}:${pad (mod rem 3600 / 60)}:${pad (mod rem 60)}Z"
