-- Applies a change to an account unless a newer change already applied.
--   KEYS[1] account hash
--   KEYS[2] set of the account's key ids
--   ARGV[1] now, unix seconds
--   ARGV[2] source event time in unix seconds, "" for an operator's change
--   ARGV[3] "live" or "test" to create a missing account in that mode, "" not to
--   ARGV[4] "1" to revoke every active key of the account when the change applies
--   ARGV[5] prefix of the account's key records ("dfg:{id}:key:")
--   ARGV[6..] field, value pairs to set
-- A billing change older than the account's version is ignored; an
-- operator's change applies at once and lasts until a newer billing event.
-- The key records share the account's hash tag, so on Redis Cluster they
-- live in the same slot as KEYS[1] and this script may touch them.
-- Returns {found, applied, version, created, revoked}.
local now = tonumber(ARGV[1])
local created = 0
if redis.call("EXISTS", KEYS[1]) == 0 then
  if ARGV[3] == "" then return {0, 0, 0, 0, 0} end
  redis.call("HSET", KEYS[1], "tier", "free", "status", "active", "mode", ARGV[3],
    "anchor_day", 1, "anchor_second", 0, "period_start", "", "period_end", "",
    "created_at", now, "version", 0)
  created = 1
end

local version = tonumber(redis.call("HGET", KEYS[1], "version") or "0")
local new_version
if ARGV[2] ~= "" then
  local event_time = tonumber(ARGV[2])
  if event_time < version then return {1, 0, version, created, 0} end
  new_version = event_time
else
  new_version = math.max(version, now)
end

local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call("HSET", KEYS[1], unpack(fields)) end
redis.call("HSET", KEYS[1], "version", new_version)

local revoked = 0
if ARGV[4] == "1" then
  for _, key_id in ipairs(redis.call("SMEMBERS", KEYS[2])) do
    local record = ARGV[5] .. key_id
    if redis.call("HGET", record, "status") == "active" then
      redis.call("HSET", record, "status", "revoked", "revoked_at", now)
      revoked = revoked + 1
    end
  end
end
return {1, 1, new_version, created, revoked}
