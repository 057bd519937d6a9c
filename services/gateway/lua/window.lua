-- Monthly quota windows, shared by the metering and usage scripts.
--
-- A window starts on the anchor day of each month at the anchor second of
-- that day (both taken from the billing period start, or day 1 at 00:00 UTC
-- without billing). A month shorter than the anchor day starts its window
-- on its last day:
--
--   anchor 31  ->  Jan 31, Feb 28 (29), Mar 31, Apr 30, May 31, ...
--
-- Dates use the proleptic Gregorian calendar and days since 1970-01-01
-- (the civil-from-days algorithms of Howard Hinnant, public domain).

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

local function days_in_month(y, m)
  if m == 2 then
    if (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 then return 29 end
    return 28
  end
  if m == 4 or m == 6 or m == 9 or m == 11 then return 30 end
  return 31
end

local function add_months(y, m, k)
  local index = y * 12 + (m - 1) + k
  return math.floor(index / 12), index % 12 + 1
end

local function window_start_in(y, m, anchor_day, anchor_second)
  local day = math.min(anchor_day, days_in_month(y, m))
  return days_from_civil(y, m, day) * 86400 + anchor_second
end

-- Returns the start and end (unix seconds) of the window holding `now`.
local function monthly_window(now, anchor_day, anchor_second)
  local y, m = civil_from_days(math.floor(now / 86400))
  local start = window_start_in(y, m, anchor_day, anchor_second)
  if now < start then
    y, m = add_months(y, m, -1)
    start = window_start_in(y, m, anchor_day, anchor_second)
  end
  local next_y, next_m = add_months(y, m, 1)
  return start, window_start_in(next_y, next_m, anchor_day, anchor_second)
end
