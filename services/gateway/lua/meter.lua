-- Decides and charges one request atomically (window.lua is prepended).
--
-- All keys belong to one account and share its hash tag, so the script runs
-- unchanged on Redis Cluster.
--   KEYS[1] account hash     KEYS[2] key hash       KEYS[3] usage hash
--   KEYS[4] burst hash       KEYS[5] idempotency record
--   KEYS[6] check record: the Envoy request whose Check this is
--   ARGV[1] now, unix milliseconds
--   ARGV[2] cost in calls
--   ARGV[3] tier table: "name quota burst included;..." (quota -1 = no cap,
--           included 1 when the tier includes the called method)
--   ARGV[4] idempotency fingerprint (method and body hash), "" for none
--   ARGV[5] idempotency record lifetime, milliseconds
--   ARGV[6] deadline in Redis's clock, unix milliseconds, "" for none: a
--           script that runs later (Redis was frozen or slow, and the
--           gateway has already returned 503) changes nothing
--   ARGV[7] "1" when the method is free and open to canceled accounts
--   ARGV[8] replays of one idempotency key that are free; later replays
--           are charged like new calls, so a key cannot buy unlimited
--           compute
--   ARGV[9] check record lifetime, milliseconds, "" for none. Envoy sends
--           the same Check again to another gateway replica when the first
--           one failed or did not respond in time. That replica may have
--           charged already, so the record makes the repeat free
--   ARGV[10] charge id, 32 hex digits: the check record stores it with what
--           the charge took, so that refund.lua refunds only that charge
--
-- Returns {status, reason, tier, quota, used, window_start, window_end,
--          burst, burst_used, retry_after_ms, replayed, recorded}.
-- recorded is 1 when this run wrote a new idempotency record, so that
-- refund.lua can tell that record from one written by an earlier call.
-- A denial writes nothing.

local now_ms = tonumber(ARGV[1])
local now = math.floor(now_ms / 1000)
local cost = tonumber(ARGV[2])

local function deny(status, reason, tier)
  return {status, reason, tier or "", -1, 0, 0, 0, 0, 0, 0, 0, 0}
end

if ARGV[6] ~= "" then
  local clock = redis.call("TIME")
  local redis_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  if redis_ms > tonumber(ARGV[6]) then return deny(503, "DEADLINE_EXCEEDED") end
end

local account = redis.call("HMGET", KEYS[1], "tier", "status", "anchor_day", "anchor_second")
if not account[1] then return deny(401, "ACCOUNT_NOT_FOUND") end
local tier = account[1]

local key = redis.call("HMGET", KEYS[2], "status", "expires_at", "last_used")
if not key[1] then return deny(401, "API_KEY_UNKNOWN") end
if key[1] == "revoked" then return deny(401, "API_KEY_REVOKED") end
if key[2] and key[2] ~= "" and now >= tonumber(key[2]) then return deny(401, "API_KEY_EXPIRED") end
if account[2] == "canceled" and ARGV[7] ~= "1" then return deny(403, "ACCOUNT_CANCELED", tier) end

local quota, burst, included
for name, q, b, inc in string.gmatch(ARGV[3], "([^ ;]+) (-?%d+) (%d+) (%d)") do
  if name == tier then quota, burst, included = tonumber(q), tonumber(b), inc == "1" end
end
if not quota then return deny(403, "TIER_UNKNOWN", tier) end
if not included then return deny(403, "METHOD_NOT_IN_TIER", tier) end

local window_start, window_end = monthly_window(now, tonumber(account[3] or 1), tonumber(account[4] or 0))
local usage = redis.call("HMGET", KEYS[3], "window_start", "used")
local used = 0
if tonumber(usage[1]) == window_start then used = tonumber(usage[2]) or 0 end

local second = redis.call("HMGET", KEYS[4], "second", "count")
local burst_used = 0
if tonumber(second[1]) == now then burst_used = tonumber(second[2]) or 0 end

-- A repeat of a Check that was admitted already: admit it again without
-- charging, counting or checking any limit a second time. The record is
-- marked, so refund.lua keeps the charge of a call that reached the service
-- through this repeat.
if ARGV[9] ~= "" and redis.call("EXISTS", KEYS[6]) == 1 then
  redis.call("SET", KEYS[6], "retried", "KEEPTTL")
  return {200, "RETRY", tier, quota, used, window_start, window_end, burst, burst_used, 0, 1, 0}
end

-- The record is "fingerprint#replays"; a record without the count is an
-- older one with no replays yet.
local replayed = 0
local replays = 0
if ARGV[4] ~= "" then
  local seen = redis.call("GET", KEYS[5])
  if seen then
    local fingerprint, count = string.match(seen, "^(.*)#(%d+)$")
    if not fingerprint then fingerprint, count = seen, "0" end
    if fingerprint ~= ARGV[4] then return deny(409, "IDEMPOTENCY_KEY_REUSED", tier) end
    replays = tonumber(count)
    if replays < tonumber(ARGV[8]) then
      replayed = 1
      cost = 0
    end
  end
end

local function limited(reason, retry_ms)
  return {429, reason, tier, quota, used, window_start, window_end, burst, burst_used, retry_ms, replayed, 0}
end
-- The quota first: when both are exhausted, the caller must wait for the
-- monthly reset, not for the next second.
if quota >= 0 and used + cost > quota then
  return limited("MONTHLY_QUOTA_EXCEEDED", window_end * 1000 - now_ms)
end
if burst_used + 1 > burst then return limited("BURST_LIMIT_EXCEEDED", 1000 - now_ms % 1000) end

used = used + cost
burst_used = burst_used + 1
if cost > 0 or tonumber(usage[1]) ~= window_start then
  if tonumber(usage[1]) ~= window_start and usage[1] then
    redis.call("HSET", KEYS[3], "previous_window_start", usage[1], "previous_used", usage[2] or 0)
  end
  redis.call("HSET", KEYS[3], "window_start", window_start, "used", used)
end
redis.call("HSET", KEYS[4], "second", now, "count", burst_used)
redis.call("PEXPIRE", KEYS[4], 2000)
local recorded = 0
if ARGV[4] ~= "" then
  if replays == 0 and replayed == 0 then
    redis.call("SET", KEYS[5], ARGV[4] .. "#0", "PX", tonumber(ARGV[5]))
    recorded = 1
  elseif replayed == 1 then
    -- Count the free replay; the record keeps its lifetime from the first call.
    redis.call("SET", KEYS[5], ARGV[4] .. "#" .. (replays + 1), "KEEPTTL")
  end
end
if ARGV[9] ~= "" then
  -- "charge_id cost window_start window_end second idempotency_key", with
  -- "-" for no idempotency record; Store.refund builds the same string
  -- (check_record_value in store.py).
  local idempotency = "-"
  if recorded == 1 then idempotency = KEYS[5] end
  local record = table.concat({ARGV[10], cost, window_start, window_end, now, idempotency}, " ")
  redis.call("SET", KEYS[6], record, "PX", tonumber(ARGV[9]))
end
local last_used = tonumber(key[3] or "")
if not last_used or now - last_used >= 60 then
  redis.call("HSET", KEYS[2], "last_used", now)
end
return {200, "OK", tier, quota, used, window_start, window_end, burst, burst_used, 0, replayed, recorded}
