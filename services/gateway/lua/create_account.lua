-- Creates an account in one step, or does nothing if it exists.
--   KEYS[1] account hash
--   ARGV    field, value pairs
-- Returns 1 when created, 0 when the account already existed.
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
redis.call("HSET", KEYS[1], unpack(ARGV))
return 1
