-- Strict checks of REST requests. Envoy's Lua filter runs this script on the
-- public listener before grpc_json_transcoder (LuaJIT, Lua 5.1 syntax).
--
-- The transcoder is lenient. Its JSON parser accepts single-quoted strings,
-- and when one field is sent twice, the last copy wins, also when the two
-- copies use the field's two names (`journal_text` and `journalText`). It
-- reads "yes" and "1" as true, lat=0x10 as 16, an object where an array
-- belongs as an array of one, and drops null array elements. It reads query
-- parameters on routes whose fields all come from the body, lets a repeated
-- query parameter win silently, and its errors name no field. A request
-- could then mean one thing to its sender and another to the service. This
-- script lets a request through only when one reading is possible:
--
--   * on a route of the descriptor, every query parameter is a top-level
--     field of the request that the route takes from the query string
--     (none on a route with body "*"), or a name in the transcoder's
--     ignored_query_parameters (api_key). Each value fits its field's type
--     (strict decimal numbers in range, true or false, a value of the
--     enum), and api_key and each field that is not repeated are sent
--     once, else 400 INVALID_REQUEST;
--   * a request with a body has Content-Type application/json and no
--     Content-Encoding other than identity, else 415. The media type may
--     be in any case and have parameters, but a charset must be utf-8;
--   * the body is one JSON object as RFC 8259 defines it: double-quoted
--     strings, no comments, no trailing commas, no NaN or Infinity, valid
--     UTF-8 and no unpaired surrogate escape (I-JSON, RFC 7493), else 400
--     INVALID_JSON;
--   * no object has a key twice, after escapes are decoded, nor both names
--     of one field of the request message (its proto name and its JSON
--     name, `journal_text` and `journalText`), else 400 INVALID_JSON;
--   * objects and arrays nest at most MAX_DEPTH levels, else 400 INVALID_JSON;
--   * on a route of the descriptor, each key of a message's object names
--     a field of that message, and each field has the JSON type of the
--     field (see value_problem), else 400 INVALID_REQUEST. The messages
--     are the body's and those of its message fields, at any depth. The
--     transcoder would drop an unknown key without a word, so a misspelt
--     optional field would be ignored and a misspelt required one would
--     cost a charged 400 from the service. The value of an unknown key is
--     not checked inside.
--
-- The routes and messages come from EDGE_SCHEMA, a table that
-- defrag/envoyconf.py renders from the descriptor set (defrag/edgeschema.py)
-- and puts on the line before this script, so line numbers in Envoy's log
-- are one higher than in this file.
--
-- It skips native gRPC calls (the transcoder's own test: a POST whose
-- Content-Type is application/grpc or starts with application/grpc+). The
-- body checks run on every other path, not only on the routes in the
-- descriptor, so no spelling of a path can reach the transcoder unchecked.
-- A rejected body to an unknown route therefore gets 400 or 415 instead of
-- 404. It also checks a body sent with GET, because the transcoder reads
-- one into the request message. Route lookup follows the transcoder's path
-- matcher: the query string and trailing slashes are dropped, and a custom
-- verb (":batch") counts only when a template declares it.
--
-- Work is linear in the size of the path and the body. A body over
-- max_body_bytes, which the set_metadata filter before this one passes in,
-- gets 413 unchecked.
--
-- Only a field's two exact names count as one key, because protobuf's
-- JSON parser, which the transcoder uses, reads a field under its proto
-- name or its JSON name (lowerCamelCase, or a custom json_name) and
-- nothing else. Any other spelling (`journal_Text`, `journal__text`,
-- `journal_text_`) is an unknown key, which this script rejects. Keys of a
-- map, of a well-known type such as google.protobuf.Struct, of an unknown
-- key's object and of a route outside the descriptor are not field names.
-- None of them is rejected as unknown, and they count as repeats only when
-- written the same.
-- A google.api.HttpBody route (raw_body in the schema, such as the Stripe
-- webhook) takes raw bytes of any Content-Type, which the service checks
-- itself (a signature covers them). Only its query string and body size
-- are checked here.

local byte, char, find, format, gmatch, gsub, lower, match, sub =
  string.byte, string.char, string.find, string.format, string.gmatch, string.gsub, string.lower,
  string.match, string.sub
local concat, floor, abs = table.concat, math.floor, math.abs

-- Deep enough for every request message (orbit's is 4 levels), shallow
-- enough that a body of brackets cannot make thousands of Lua tables.
local MAX_DEPTH = 32
-- Maximum length in bytes of a key or header value that an error message repeats.
local MAX_ECHO_BYTES = 64
-- Maximum length in bytes of a number, true/false or enum value that an
-- error message repeats. Values of other fields are never repeated.
local MAX_VALUE_ECHO_BYTES = 32
-- Field violations listed in one error; the message counts the rest.
local MAX_FIELD_VIOLATIONS = 20
local DOMAIN = "api.defrag.app"

-- Byte values used by the scanner.
local QUOTE, BACKSLASH, SLASH, APOSTROPHE = 34, 92, 47, 39
local OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET = 123, 125, 91, 93
local COMMA, COLON, MINUS, PLUS, DOT, ZERO, NINE = 44, 58, 45, 43, 46, 48, 57
-- A rejected body: where, what rule it broke, and how to fix it.
local Violation = {}

local function reject(position, problem, fix)
  error(setmetatable({ position = position, problem = problem, fix = fix }, Violation), 0)
end

-- Escapes that RFC 8259 allows after a backslash, with the byte each stands for.
local SIMPLE_ESCAPES = {
  [QUOTE] = '"', [BACKSLASH] = "\\", [SLASH] = "/",
  [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t",
}

-- --- UTF-8 -------------------------------------------------------------------

-- Returns the index after the well-formed UTF-8 sequence that starts at
-- index k, or nil. Follows RFC 3629: no overlong forms, no surrogates,
-- nothing above U+10FFFF.
local function utf8_sequence_end(s, k)
  local lead = byte(s, k)
  local count, low, high
  if lead >= 0xC2 and lead <= 0xDF then
    count, low, high = 1, 0x80, 0xBF
  elseif lead == 0xE0 then
    count, low, high = 2, 0xA0, 0xBF
  elseif lead == 0xED then
    count, low, high = 2, 0x80, 0x9F
  elseif lead >= 0xE1 and lead <= 0xEF then
    count, low, high = 2, 0x80, 0xBF
  elseif lead == 0xF0 then
    count, low, high = 3, 0x90, 0xBF
  elseif lead >= 0xF1 and lead <= 0xF3 then
    count, low, high = 3, 0x80, 0xBF
  elseif lead == 0xF4 then
    count, low, high = 3, 0x80, 0x8F
  else
    return nil
  end

  local second = byte(s, k + 1)
  if not second or second < low or second > high then
    return nil
  end
  for offset = 2, count do
    local continuation = byte(s, k + offset)
    if not continuation or continuation < 0x80 or continuation > 0xBF then
      return nil
    end
  end
  return k + count + 1
end

local function utf8_encode(code_point)
  if code_point < 0x80 then
    return char(code_point)
  elseif code_point < 0x800 then
    return char(0xC0 + floor(code_point / 0x40), 0x80 + code_point % 0x40)
  elseif code_point < 0x10000 then
    return char(0xE0 + floor(code_point / 0x1000), 0x80 + floor(code_point / 0x40) % 0x40,
      0x80 + code_point % 0x40)
  end
  return char(0xF0 + floor(code_point / 0x40000), 0x80 + floor(code_point / 0x1000) % 0x40,
    0x80 + floor(code_point / 0x40) % 0x40, 0x80 + code_point % 0x40)
end

-- --- Strings -----------------------------------------------------------------

local function hex_digit(c)
  if c == nil then
    return nil
  elseif c >= 48 and c <= 57 then -- 0-9
    return c - 48
  elseif c >= 65 and c <= 70 then -- A-F
    return c - 55
  elseif c >= 97 and c <= 102 then -- a-f
    return c - 87
  end
  return nil
end

-- Returns the value of the four hexadecimal digits at index k, or nil.
local function hex4(s, k)
  local a, b, c, d = hex_digit(byte(s, k)), hex_digit(byte(s, k + 1)), hex_digit(byte(s, k + 2)),
    hex_digit(byte(s, k + 3))
  if a and b and c and d then
    return ((a * 16 + b) * 16 + c) * 16 + d
  end
  return nil
end

-- Decodes the escapes of a string's raw text, which scan_string has checked.
local function decode_escapes(raw)
  local parts, count, i = {}, 0, 1
  while true do
    local k = find(raw, "\\", i, true)
    if not k then
      count = count + 1
      parts[count] = sub(raw, i)
      return concat(parts)
    end
    count = count + 1
    parts[count] = sub(raw, i, k - 1)
    local escape = byte(raw, k + 1)
    if escape == 117 then -- \uXXXX, or a surrogate pair \uD8xx\uDCxx
      local code_point, length = hex4(raw, k + 2), 6
      if code_point >= 0xD800 and code_point <= 0xDBFF then
        code_point = 0x10000 + (code_point - 0xD800) * 0x400 + (hex4(raw, k + 8) - 0xDC00)
        length = 12
      end
      count = count + 1
      parts[count] = utf8_encode(code_point)
      i = k + length
    else
      count = count + 1
      parts[count] = SIMPLE_ESCAPES[escape]
      i = k + 2
    end
  end
end

-- Checks the string whose opening quote is at index i. Returns the index
-- after its closing quote and, when want_value is true, its decoded value.
-- The scanners loop over bytes with string.byte. In Envoy 1.40 that
-- measured about ten times faster than string.find with a character class
-- (2.4 against 30 ms for 1 MB of ASCII text, on a shared 2-core machine).
local function scan_string(s, i, want_value)
  local j, escaped = i + 1, false
  while true do
    local c = byte(s, j)
    if c == nil then
      reject(i, "the string that starts here is not closed", "end every string with a double quote")
    elseif c >= 0x20 and c < 0x80 and c ~= QUOTE and c ~= BACKSLASH then
      j = j + 1
    elseif c == QUOTE then
      if not want_value then
        return j + 1
      end
      local raw = sub(s, i + 1, j - 1)
      return j + 1, escaped and decode_escapes(raw) or raw
    elseif c == BACKSLASH then
      escaped = true
      local escape = byte(s, j + 1)
      if escape == 117 then -- \uXXXX
        local code_point = hex4(s, j + 2)
        if not code_point then
          reject(j, "invalid \\u escape", "write \\u and four hexadecimal digits, such as \\u00e9")
        end
        if code_point >= 0xD800 and code_point <= 0xDBFF then
          local low = byte(s, j + 6) == BACKSLASH and byte(s, j + 7) == 117 and hex4(s, j + 8)
          if not low or low < 0xDC00 or low > 0xDFFF then
            reject(j, format("unpaired surrogate \\u%04X", code_point),
              "follow a high surrogate (\\uD800..\\uDBFF) with a low one (\\uDC00..\\uDFFF), or send the character as UTF-8")
          end
          j = j + 12
        elseif code_point >= 0xDC00 and code_point <= 0xDFFF then
          reject(j, format("unpaired surrogate \\u%04X", code_point),
            "put a low surrogate (\\uDC00..\\uDFFF) only after a high one (\\uD800..\\uDBFF), or send the character as UTF-8")
        else
          j = j + 6
        end
      elseif SIMPLE_ESCAPES[escape] then
        j = j + 2
      else
        reject(j, "invalid escape in a string",
          "use only \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX")
      end
    elseif c < 0x20 then
      reject(j, format("control character 0x%02X in a string", c), "escape it, such as \\n, \\t or \\u0001")
    else
      local after = utf8_sequence_end(s, j)
      if not after then
        reject(j, "invalid UTF-8", "send the body as UTF-8")
      end
      j = after
    end
  end
end

-- --- Numbers and literals ----------------------------------------------------

local function is_digit(c)
  return c ~= nil and c >= ZERO and c <= NINE
end

-- Returns the index after the run of digits that starts at index i.
local function skip_digits(s, i)
  while is_digit(byte(s, i)) do
    i = i + 1
  end
  return i
end

local function skip_whitespace(s, i)
  local c = byte(s, i)
  while c == 32 or c == 10 or c == 13 or c == 9 do
    i = i + 1
    c = byte(s, i)
  end
  return i
end

-- Returns the value of a number in JSON syntax, as a double. LuaJIT's
-- tonumber returns nil for an exponent with too many digits (1e99999999999):
-- such a number is 0 when its digits are all zero or its exponent is
-- negative (as 1e-400 reads as 0), and infinite otherwise.
local function number_value(text)
  local value = tonumber(text)
  if value ~= nil then
    return value
  end
  local sign, mantissa, exponent = match(text, "^(%-?)([%d%.]+)[eE]([+-]?%d+)$")
  if mantissa == nil or not find(mantissa, "[1-9]") or byte(exponent) == MINUS then
    return 0
  end
  return sign == "-" and -math.huge or math.huge
end

-- Checks the number at index i (RFC 8259: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)
-- and returns the index after it.
local function scan_number(s, i)
  local j = i
  if byte(s, j) == MINUS then
    j = j + 1
  end
  local c = byte(s, j)
  if c == ZERO then
    j = j + 1
    if is_digit(byte(s, j)) then
      reject(i, "a number with a leading zero", "write the number without leading zeros")
    end
  elseif is_digit(c) then
    j = skip_digits(s, j + 1)
  elseif sub(s, j, j + 7) == "Infinity" then
    reject(i, "-Infinity is not JSON", "send a finite number")
  else
    reject(i, "a '-' without digits", "write a digit after the minus sign")
  end

  if byte(s, j) == DOT then
    if not is_digit(byte(s, j + 1)) then
      reject(j, "no digit after the decimal point", "write at least one digit after the '.'")
    end
    j = skip_digits(s, j + 1)
  end

  c = byte(s, j)
  if c == 101 or c == 69 then -- e, E
    j = j + 1
    c = byte(s, j)
    if c == PLUS or c == MINUS then
      j = j + 1
    end
    if not is_digit(byte(s, j)) then
      reject(j, "no digit in the exponent", "write the exponent as digits, such as 1e-7")
    end
    j = skip_digits(s, j)
  end
  return j
end

local LITERALS = { [116] = "true", [102] = "false", [110] = "null" }

-- --- Error text --------------------------------------------------------------

-- Returns text as a JSON string literal. Bytes other than printable ASCII
-- pass through unchanged, so callers give it valid UTF-8 only.
local function json_string(text)
  return '"' .. gsub(text, '[%z\1-\31"\\\127]', function(c)
    if c == '"' or c == "\\" then
      return "\\" .. c
    end
    return format("\\u%04x", byte(c))
  end) .. '"'
end

-- Returns text with its control characters written as \uXXXX escapes, so that
-- a key repeated in a message cannot break the message's line.
local function without_controls(text)
  return (gsub(text, "[%z\1-\31\127]", function(c)
    return format("\\u%04x", byte(c))
  end))
end

-- Cuts valid UTF-8 text to at most max_bytes (MAX_ECHO_BYTES unless given),
-- on a character boundary.
local function shorten(text, max_bytes)
  max_bytes = max_bytes or MAX_ECHO_BYTES
  if #text <= max_bytes then
    return text
  end
  local cut = max_bytes
  while cut > 0 do
    local next_byte = byte(text, cut + 1)
    if next_byte < 0x80 or next_byte > 0xBF then
      break
    end
    cut = cut - 1
  end
  return sub(text, 1, cut) .. "..."
end

-- Returns a header value fit to repeat in an error: bytes other than
-- printable ASCII become '?'.
local function printable_header(value)
  return (gsub(value, "[^\32-\126]", "?"))
end

-- Names the byte at index i of s for an error message.
local function describe_byte(s, i)
  local c = byte(s, i)
  if c == nil then
    return "the end of the body"
  elseif c > 32 and c < 127 then
    return "'" .. char(c) .. "'"
  elseif c >= 0x80 then
    return "a non-ASCII character"
  end
  return format("byte 0x%02X", c)
end

-- Explains an unexpected byte where a value, a key or a delimiter belongs.
-- Returns the problem and the fix.
local function explain_unexpected(s, i, expected)
  local c = byte(s, i)
  if c == APOSTROPHE then
    return "a single-quoted string", "use double quotes around every key and string"
  elseif c == SLASH then
    return "a comment", "remove it, because JSON has no comments"
  elseif sub(s, i, i + 2) == "NaN" then
    return "NaN is not JSON", "send a number, or leave the field out"
  elseif sub(s, i, i + 7) == "Infinity" then
    return "Infinity is not JSON", "send a finite number"
  elseif c == PLUS then
    return "a number with a '+' sign", "write the number without '+'"
  elseif c == DOT then
    return "a number without a digit before the '.'", "write a digit before the decimal point, such as 0.5"
  elseif c == nil then
    return "the body ends early", "send the whole JSON object, expecting " .. expected .. " here"
  elseif c >= 0x80 and not utf8_sequence_end(s, i) then
    return "invalid UTF-8", "send the body as UTF-8"
  end
  return "unexpected " .. describe_byte(s, i), "expected " .. expected
end

-- Returns the JSONPath of the value being read, such as $.people[1].name.
local function json_path(stack)
  local parts = { "$" }
  for level = 1, #stack do
    local frame = stack[level]
    if frame.is_array then
      parts[#parts + 1] = "[" .. frame.index .. "]"
    elseif frame.key then
      if find(frame.key, "^[%a_][%w_]*$") then
        parts[#parts + 1] = "." .. frame.key
      else
        parts[#parts + 1] = "[" .. json_string(shorten(frame.key)) .. "]"
      end
    end
  end
  return concat(parts)
end

-- Returns "line L, column C" for index i, with the column in characters.
local function line_and_column(s, i)
  local before = sub(s, 1, i - 1)
  local _, newlines = gsub(before, "\n", "")
  local line_start = 1
  for k = #before, 1, -1 do
    if byte(before, k) == 10 then
      line_start = k + 1
      break
    end
  end
  local _, continuation_bytes = gsub(sub(before, line_start), "[\128-\191]", "")
  return format("line %d, column %d", newlines + 1, i - line_start - continuation_bytes + 1)
end

-- --- Schema ------------------------------------------------------------------

-- EDGE_SCHEMA (see the header), indexed once when Envoy loads the script.
-- A field is the table defrag/edgeschema.py's field_table writes:
-- { name, json, kind, repeated, type, value, oneof }.
--   MESSAGES[message name][proto name or JSON name] = field
--   ACCEPTED_KEYS[message name] = the text that an unknown key's error
--     gives as the keys the message accepts
--   ENUMS[enum name] = { values = { [value name] = true }, listed = "A, B, C" }
--   ROUTES["<METHOD> <path without verb> <verb>"] =
--     { label, message, body, body_message, query, query_names },
--     where label is "<METHOD> <path template>", body_message is the
--     message a JSON body fills, and query maps the proto and JSON name of
--     each field that the query string may set to the field. The verb is
--     apart, because "/v1/x:batch/" has no verb and is no route.
local MESSAGES, ACCEPTED_KEYS, ENUMS, ROUTES = {}, {}, {}, {}
local VERBS = EDGE_SCHEMA.verbs
local IGNORED_QUERY_PARAMETERS = EDGE_SCHEMA.ignored_query_parameters

for name, values in pairs(EDGE_SCHEMA.enums) do
  local set = {}
  for _, value in ipairs(values) do
    set[value] = true
  end
  ENUMS[name] = { values = set, listed = concat(values, ", ") }
end

-- Returns the keys a message accepts, for an unknown key's error: the
-- proto names in declaration order, and a note on the JSON names with the
-- first one that differs from its proto name as the example.
local function describe_accepted_keys(fields)
  if #fields == 0 then
    return "the message has no fields, so send an empty object"
  end
  local names, example, all_camel_case = {}, nil, true
  for index, field in ipairs(fields) do
    names[index] = field.name
    if field.json ~= field.name then
      example = example or field.json
      -- protobuf's default JSON name: each '_' dropped and the next character upper-cased.
      all_camel_case = all_camel_case and field.json == gsub(field.name, "_+(.?)", string.upper)
    end
  end
  local accepted = "send one of " .. concat(names, ", ")
  if example then
    accepted = accepted .. format(" (or a field's %sJSON name, such as %s)",
      all_camel_case and "lowerCamelCase " or "", example)
  end
  return accepted
end

for name, fields in pairs(EDGE_SCHEMA.messages) do
  local by_key = {}
  for _, field in ipairs(fields) do
    by_key[field.name] = field
    by_key[field.json] = field
  end
  MESSAGES[name] = by_key
  ACCEPTED_KEYS[name] = describe_accepted_keys(fields)
end

for key, route in pairs(EDGE_SCHEMA.routes) do
  local query, names = {}, {}
  for _, name in ipairs(route.query) do
    local field = MESSAGES[route.message][name]
    query[field.name] = field
    query[field.json] = field
    names[#names + 1] = field.name
  end
  local method, template = match(key, "^(%S+) (.*)$")
  local path, verb = match(template, "^(.*):([^/:]*)$")
  if path == nil or not VERBS[verb] then
    path, verb = template, ""
  end
  ROUTES[method .. " " .. path .. " " .. verb] = { label = key, message = route.message, body = route.body,
    body_message = route.body_message, query = query, query_names = concat(names, ", "), raw_body = route.raw_body }
end

-- Returns the route of a request and its query string. Like the
-- transcoder's path matcher, it drops the query string and trailing
-- slashes, and reads a ":verb" after the last '/' as a custom verb only
-- when a template declares that verb. Returns nil for the route when no
-- template matches.
local function find_route(method, path)
  local query_start = find(path, "?", 1, true)
  local route_path = query_start and sub(path, 1, query_start - 1) or path
  local query = query_start and sub(path, query_start + 1) or ""

  local verb = ""
  local last_colon = match(route_path, "^.*():")
  if last_colon and not find(route_path, "/", last_colon, true) and VERBS[sub(route_path, last_colon + 1)] then
    verb = sub(route_path, last_colon + 1)
    route_path = sub(route_path, 1, last_colon - 1)
  end
  route_path = gsub(route_path, "/+$", "")
  return ROUTES[method .. " " .. route_path .. " " .. verb], query
end

-- The HTTP methods a REST route may use.
local ROUTE_METHODS = { "GET", "POST", "PUT", "DELETE", "PATCH" }

-- Returns the methods that routes of the request's path take, joined for an
-- Allow header, or nil when no route has that path.
local function allowed_methods(path)
  local allowed = {}
  for _, method in ipairs(ROUTE_METHODS) do
    if find_route(method, path) then
      allowed[#allowed + 1] = method
    end
  end
  return #allowed > 0 and concat(allowed, ", ") or nil
end

-- --- Field types ---------------------------------------------------------------

-- What a field of each kind takes: a noun phrase for one value and one for
-- the elements of an array, and the fix for a value of another JSON type.
local WHOLE_NUMBER_FIX = "send a whole number without quotes, such as 1"
local KIND_RULES = {
  string = { one = "a string", many = "strings", fix = "put the value in double quotes" },
  bytes = { one = "a base64 string", many = "base64 strings",
    fix = "send the bytes base64-encoded, in double quotes" },
  bool = { one = "true or false", many = "true or false values", fix = "send true or false, without quotes" },
  double = { one = "a finite number", many = "finite numbers",
    fix = "send a JSON number without quotes, such as 51.5" },
  float = { one = "a number from -3.4028235e38 to 3.4028235e38", many = "numbers from -3.4028235e38 to 3.4028235e38",
    fix = "send a JSON number without quotes, such as 51.5" },
  int32 = { one = "a whole number from -2147483648 to 2147483647",
    many = "whole numbers from -2147483648 to 2147483647", fix = WHOLE_NUMBER_FIX },
  uint32 = { one = "a whole number from 0 to 4294967295", many = "whole numbers from 0 to 4294967295",
    fix = WHOLE_NUMBER_FIX },
  int64 = { one = "a whole number from -9223372036854775808 to 9223372036854775807",
    many = "whole numbers from -9223372036854775808 to 9223372036854775807",
    fix = 'send a whole number, such as 1 or "1"' },
  uint64 = { one = "a whole number from 0 to 18446744073709551615",
    many = "whole numbers from 0 to 18446744073709551615", fix = 'send a whole number, such as 1 or "1"' },
  message = { one = "an object", many = "objects", fix = 'send an object, such as {"name": value}' },
  map = { one = "an object", many = "objects", fix = 'send an object, such as {"key": value}' },
}

-- Kinds whose values an error message may repeat, cut to
-- MAX_VALUE_ECHO_BYTES: numbers, true/false and enum values. The values of
-- string and bytes fields are never repeated, because they may hold a
-- person's text, name or birth data.
local ECHOED_KINDS = {
  bool = true, double = true, float = true, int32 = true, uint32 = true, int64 = true, uint64 = true, enum = true,
}

-- Magnitude limits of the integer kinds, as decimal digits. A kind without
-- a negative limit takes no negative numbers.
local INTEGER_LIMITS = {
  int32 = { negative = "2147483648", positive = "2147483647" },
  uint32 = { positive = "4294967295" },
  int64 = { negative = "9223372036854775808", positive = "9223372036854775807" },
  uint64 = { positive = "18446744073709551615" },
}
-- The largest finite float and double (FLT_MAX, DBL_MAX). tonumber reads
-- a decimal number beyond DBL_MAX as infinity.
local MAX_FLOAT, MAX_DOUBLE = 3.4028234663852886e38, 1.7976931348623157e308

local function expected_rule(field, element)
  local rule = KIND_RULES[field.kind]
  if field.repeated and not element then
    if field.kind == "enum" then
      return "an array of strings, each one of " .. ENUMS[field.type].listed
    end
    return "an array of " .. rule.many
  elseif field.kind == "enum" then
    return "one of " .. ENUMS[field.type].listed
  end
  return rule.one
end

local function type_fix(field, element)
  if field.repeated and not element then
    return "send a JSON array, [...], also for a single element"
  elseif field.kind == "enum" then
    return "send one of these values as a string"
  end
  return KIND_RULES[field.kind].fix
end

-- Returns whether text is a number in JSON syntax (RFC 8259).
local function is_json_number(text)
  local rest = match(text, "^%-?0(.*)$") or match(text, "^%-?[1-9]%d*(.*)$")
  if rest == nil then
    return false
  end
  rest = match(rest, "^%.%d+(.*)$") or rest
  rest = match(rest, "^[eE][+-]?%d+(.*)$") or rest
  return rest == ""
end

-- Returns whether digits (no sign, no leading zero) are at most limit.
local function digits_within(digits, limit)
  if #digits ~= #limit then
    return #digits < #limit
  end
  return digits <= limit
end

-- Returns nil when text is a number of the kind, written as in JSON and in
-- the kind's range, or else the fix.
local function number_fix(text, kind)
  local limits = INTEGER_LIMITS[kind]
  if limits == nil then -- double or float
    if not is_json_number(text) then
      return "write a decimal number such as 51.5 or -0.12, with no spaces, '+' sign or hexadecimal, and digits on both sides of a '.'"
    end
    local value = number_value(text)
    local limit = kind == "float" and MAX_FLOAT or MAX_DOUBLE
    if value > limit or value < -limit then
      return "send a number within the range of a " .. kind
    end
    return nil
  end

  if not (match(text, "^%-?0$") or match(text, "^%-?[1-9]%d*$")) then
    if is_json_number(text) then
      return "send a whole number, with no fraction or exponent"
    end
    return "write a whole number in decimal, such as 1, with no spaces, '+' sign, leading zero or hexadecimal"
  end
  local negative = byte(text) == MINUS
  local digits, limit = text, limits.positive
  if negative then
    digits, limit = sub(text, 2), limits.negative
  end
  if digits ~= "0" and (limit == nil or not digits_within(digits, limit)) then
    return "send a number in that range"
  end
  return nil
end

-- Returns whether every base64 character of text is in the standard or
-- the URL-safe alphabet, which protobuf's JSON parser both accept.
local function is_base64(text)
  return not find(text, "[^%w%+/_%-=]")
end

-- Repeats a value that a field of an ECHOED_KINDS kind received: printable
-- ASCII, cut to MAX_VALUE_ECHO_BYTES, in single quotes.
local function echo_value(text)
  return "'" .. shorten(printable_header(text), MAX_VALUE_ECHO_BYTES) .. "'"
end

-- Describes a JSON value that field received, for an error message. text
-- is the number's text, or the string's decoded value, when read.
local function describe_value(field, token, text)
  local echoed = ECHOED_KINDS[field.kind] and text
  if token == "number" then
    return echoed and echo_value(text) or "a number"
  elseif token == "string" then
    if echoed and (field.kind == "enum" or field.kind == "bool") then
      return "the string " .. echo_value(text)
    elseif echoed and is_json_number(text) then
      return "a number in quotes"
    end
    return "a string"
  elseif token == "object" then
    return "an object"
  elseif token == "array" then
    return "an array"
  end
  return token -- true, false or null
end

-- Returns nil when a JSON value fits field, or else the description of a
-- field violation. token is "object", "array", "string", "number", "true",
-- "false" or "null". element is true for an element of a repeated field or
-- a map value. text is as for describe_value.
--
-- null stands for the field's default, as in the proto3 JSON mapping, but
-- not as an array element, which the transcoder would drop without a word.
-- Numbers must be JSON numbers (64-bit integers may also be decimal
-- strings), not numbers in quotes, NaN or Infinity.
local function value_problem(field, element, token, text)
  if token == "null" then
    if element then
      return "an array element or map value is null: remove it, or send " .. expected_rule(field, true)
    end
    return nil
  end

  local kind = field.kind
  local fits
  local fix = nil
  if field.repeated and not element then
    fits = token == "array"
  elseif kind == "any" then
    fits = true
  elseif kind == "message" or kind == "map" then
    fits = token == "object"
  elseif kind == "string" then
    fits = token == "string"
  elseif kind == "bytes" then
    fits = token == "string" and is_base64(text)
    if token == "string" and not fits then
      fix = "encode the bytes as base64, with only A-Z, a-z, 0-9, '+', '/', '-', '_' and '=' padding"
    end
  elseif kind == "bool" then
    fits = token == "true" or token == "false"
  elseif kind == "enum" then
    fits = token == "string" and ENUMS[field.type].values[text] == true
  elseif token == "number" or (token == "string" and (kind == "int64" or kind == "uint64")) then
    fix = number_fix(text, kind)
    fits = fix == nil
  else
    fits = false
  end

  if fits then
    return nil
  end
  return format("expected %s, got %s: %s", expected_rule(field, element), describe_value(field, token, text),
    fix or type_fix(field, element))
end

-- Returns whether a value of this field needs its text (a number's
-- digits or a string's decoded value) to be checked or described.
local function needs_text(field, element)
  if field == nil or (field.repeated and not element) then
    return false
  end
  local kind = field.kind
  return kind ~= "string" and kind ~= "any" and kind ~= "message" and kind ~= "map"
end

-- Adds a field violation to the list, which keeps the first
-- MAX_FIELD_VIOLATIONS and counts all. field is the field's name and
-- description the problem and fix, each given as text or as a function
-- that returns it, which is called only for a violation that is kept.
local function add_violation(violations, field, description)
  violations.count = violations.count + 1
  if violations.count <= MAX_FIELD_VIOLATIONS then
    if type(field) == "function" then
      field = field()
    end
    if type(description) == "function" then
      description = description()
    end
    violations[#violations + 1] = { field = field, description = description }
  end
end

local function new_violations()
  return { count = 0 }
end
-- --- Query string --------------------------------------------------------------

-- Returns text with every %XX escape decoded, as the transcoder decodes
-- parameter names and values. A '+' stays a '+' (the transcoder's
-- query_param_unescape_plus is false), and so does a '%' without two
-- hexadecimal digits.
local function percent_decode(text)
  if not find(text, "%", 1, true) then
    return text
  end
  return (gsub(text, "%%(%x%x)", function(hex)
    return char(tonumber(hex, 16))
  end))
end

-- Returns whether text is valid UTF-8.
local function is_utf8(text)
  local k = find(text, "[\128-\255]")
  while k do
    k = utf8_sequence_end(text, k)
    if not k then
      return false
    end
    k = find(text, "[\128-\255]", k)
  end
  return true
end

-- Returns nil when a query value, once decoded, fits field, or else the
-- description of a field violation. Numbers are written as in JSON, so
-- there is one syntax for both, and true and false are the only booleans
-- (not 1, 0, yes or no), as in a JSON body.
local function query_value_problem(field, value)
  local kind = field.kind
  if kind == "string" or kind == "any" then
    if not is_utf8(value) then
      return "the value is not valid UTF-8 once its %XX escapes are decoded: percent-encode the text's UTF-8 bytes"
    end
    return nil
  elseif kind == "bytes" then
    if not is_base64(value) then
      return "expected base64 bytes: encode them as base64 with only A-Z, a-z, 0-9, '+', '/', '-', '_' and '=' padding, percent-encoding '+', '/' and '='"
    end
    return nil
  end

  local got = value == "" and "an empty value" or echo_value(value)
  if kind == "bool" then
    if value ~= "true" and value ~= "false" then
      return format("expected true or false, got %s: send true or false in lowercase (1, 0, yes and no are not accepted)", got)
    end
  elseif kind == "enum" then
    if not ENUMS[field.type].values[value] then
      return format("expected one of %s, got %s: send one of these values", ENUMS[field.type].listed, got)
    end
  elseif value == "" then
    return format("expected %s, got an empty value: send a number, or leave the parameter out", KIND_RULES[kind].one)
  else
    local fix = number_fix(value, kind)
    if fix then
      return format("expected %s, got %s: %s", KIND_RULES[kind].one, got, fix)
    end
  end
  return nil
end

-- Checks the query string of a request to route. Returns the field
-- violations, each naming a parameter as sent (or the field's proto name,
-- for a problem with its value). Values are decoded only to be checked,
-- and a value is repeated only for a field of an ECHOED_KINDS kind.
--
-- Like the transcoder, it splits the query string at '&' and a parameter
-- at its first '='; empty parameters (from "&&") are skipped. Where the
-- transcoder silently ignores a parameter without '=' or without a name,
-- this check rejects it.
local function check_query(route, query)
  local violations, counts, ignored_counts = new_violations(), {}, {}
  for parameter in gmatch(query, "[^&]+") do
    local equals = find(parameter, "=", 1, true)
    local raw_name = equals and sub(parameter, 1, equals - 1) or parameter
    -- A raw-body route needs no API key, so not even the deprecated api_key passes.
    if route.raw_body or not IGNORED_QUERY_PARAMETERS[raw_name] then
      local name = percent_decode(raw_name)
      local sent_name = shorten(printable_header(raw_name))
      local field = route.query[name]

      if route.raw_body then
        add_violation(violations, sent_name, format(
          "%s takes the raw request body and no query parameters: remove the query string", route.label))
      elseif route.body == "*" then
        local body_field = MESSAGES[route.message][name]
        add_violation(violations, sent_name, format(
          "%s takes its fields from the JSON body, so it accepts no query parameter but the deprecated api_key: send %s in the JSON body",
          route.label, body_field and body_field.name or "the request's fields"))
      elseif raw_name == "" then
        add_violation(violations, "", "a query parameter has no name before its '=': remove it")
      elseif field == nil then
        local accepted = route.query_names ~= "" and ("accepts " .. route.query_names) or "accepts no query parameters"
        add_violation(violations, sent_name, format("unknown query parameter: %s %s; check the spelling", route.label, accepted))
      elseif not equals then
        add_violation(violations, field.name, format("the parameter has no value: write %s=<value>, or leave it out", field.name))
      else
        counts[field.name] = (counts[field.name] or 0) + 1
        if counts[field.name] == 2 and not field.repeated then
          local names = field.json == field.name and field.name or (field.name .. " or " .. field.json)
          add_violation(violations, field.name, format("the parameter is sent more than once (as %s): send it once", names))
        end
        local problem = query_value_problem(field, percent_decode(sub(parameter, equals + 1)))
        if problem then
          add_violation(violations, field.name, problem)
        end
      end
    else
      -- The gateway would read only one copy of the key, so a repeat gets
      -- the 400 that any other repeated parameter gets.
      ignored_counts[raw_name] = (ignored_counts[raw_name] or 0) + 1
      if ignored_counts[raw_name] == 2 then
        add_violation(violations, raw_name, format(
          "the parameter is sent more than once: send one API key, in an Authorization: Bearer header rather than the deprecated %s",
          raw_name))
      end
    end
  end
  return violations
end
-- --- Parser ------------------------------------------------------------------

-- Returns path with one key of an object appended: ".key" for a name of
-- letters, digits and '_', else the key in brackets and quotes.
local function append_key(path, key)
  if find(key, "^[%a_][%w_]*$") then
    return path .. (path ~= "" and "." or "") .. shorten(key)
  end
  return path .. "[" .. json_string(shorten(key)) .. "]"
end

-- Returns the path of the value being read in the form the services use in
-- their field violations, with proto names: people[1].birth_data.lat. A
-- key that names no field, or is in an object no message describes, is
-- written as sent: people[1].birth_data.latt.
local function field_path(stack)
  local path = ""
  for level = 1, #stack do
    local frame = stack[level]
    if frame.is_array then
      path = path .. "[" .. frame.index .. "]"
    elseif frame.map_value then
      path = path .. "[" .. json_string(shorten(frame.key)) .. "]"
    elseif frame.member then
      path = path .. (path ~= "" and "." or "") .. frame.member.name
    elseif frame.key then
      path = append_key(path, frame.key)
    end
  end
  return path
end

-- Returns the stack frame of an object or array that is the value of field
-- (nil when the value is not checked).
local function open_frame(field, element, is_array)
  local whole_array = field ~= nil and field.repeated and not element
  if is_array then
    return { is_array = true, index = 0, element_field = whole_array and field or nil }
  end
  local frame = { keys = {} }
  if field and not whole_array then
    if field.kind == "message" then
      frame.fields = MESSAGES[field.type]
      frame.message = field.type
    elseif field.kind == "map" then
      frame.map_value = field.value
    end
  end
  return frame
end

-- Checks that s is one strict JSON object. Raises a Violation (through
-- reject) at the first syntax problem. The stack contains one frame per
-- open object or array, so the parser needs no recursion.
--
-- root describes the object as a field of kind "message", or is nil on a
-- route outside the descriptor. Values of known fields that do not fit
-- their type go to violations, and the parse goes on, so a later syntax
-- problem still wins. The value of a field that does not fit is not
-- checked inside.
local function check_body(s, stack, root, violations)
  local i = skip_whitespace(s, 1)
  if sub(s, i, i + 2) == "\239\187\191" then
    reject(i, "a byte order mark", "send UTF-8 without a byte order mark")
  end
  if byte(s, i) ~= OPEN_BRACE then
    local problem, fix = explain_unexpected(s, i, "'{'")
    if byte(s, i) == OPEN_BRACKET or byte(s, i) == QUOTE or is_digit(byte(s, i)) then
      problem, fix = "the body is not a JSON object", "send one object, such as {\"field\": \"value\"}"
    end
    reject(i, problem, fix)
  end

  -- The field of the next value (nil when the value is not checked), and
  -- whether the value is one element of that field or a map value.
  local expect, element = root, false

  local function current_path()
    return field_path(stack)
  end

  local function check_value(token, text)
    local problem = value_problem(expect, element, token, text)
    if problem then
      add_violation(violations, current_path, problem)
    end
    return problem
  end

  local state = "value" -- value, key or after (a value was read)
  while true do
    i = skip_whitespace(s, i)
    local c = byte(s, i)

    if state == "value" then
      if expect and expect.oneof and not element and c ~= 110 then -- 110: n of null
        local frame = stack[#stack]
        frame.oneofs = frame.oneofs or {}
        local earlier = frame.oneofs[expect.oneof]
        if earlier then
          add_violation(violations, current_path, format(
            "%s and %s are both set, but they are alternatives (oneof %s): send only one of them",
            earlier, expect.name, expect.oneof))
        end
        frame.oneofs[expect.oneof] = expect.name
      end

      if c == OPEN_BRACE or c == OPEN_BRACKET then
        if #stack >= MAX_DEPTH then
          reject(i, format("objects and arrays nested deeper than %d levels", MAX_DEPTH), "flatten the body")
        end
        local is_array = c == OPEN_BRACKET
        local problem = expect and check_value(is_array and "array" or "object")
        local frame = open_frame(not problem and expect or nil, element, is_array)
        stack[#stack + 1] = frame
        local after_open = skip_whitespace(s, i + 1)
        if byte(s, after_open) == (is_array and CLOSE_BRACKET or CLOSE_BRACE) then
          stack[#stack] = nil
          i, state = after_open + 1, "after"
        elseif is_array then
          i, state = i + 1, "value"
          expect, element = frame.element_field, true
        else
          i, state = i + 1, "key"
        end
      elseif c == QUOTE then
        local text
        if needs_text(expect, element) then
          i, text = scan_string(s, i, true)
        else
          i = scan_string(s, i, false)
        end
        if expect then
          check_value("string", text)
        end
        state = "after"
      elseif c == MINUS or is_digit(c) then
        local j = scan_number(s, i)
        if expect then
          check_value("number", needs_text(expect, element) and sub(s, i, j - 1) or nil)
        elseif abs(number_value(sub(s, i, j - 1))) == math.huge then
          -- The transcoder cannot read a number beyond a double (I-JSON, RFC
          -- 7493), even where no field's type applies: under an unknown key,
          -- in a value of the wrong type, or on a path outside the descriptor.
          add_violation(violations, current_path,
            "a number beyond the range of a double (about 1.8e308): send a smaller number, or leave the field out")
        end
        i, state = j, "after"
      elseif LITERALS[c] and sub(s, i, i + #LITERALS[c] - 1) == LITERALS[c] then
        if expect then
          check_value(LITERALS[c])
        end
        i, state = i + #LITERALS[c], "after"
      elseif c == CLOSE_BRACKET and stack[#stack] and stack[#stack].is_array then
        reject(i, "a trailing comma before ']'", "remove the comma after the last element")
      else
        reject(i, explain_unexpected(s, i, "a value"))
      end

    elseif state == "key" then
      -- Until the key passes, errors name the object that contains it.
      local frame = stack[#stack]
      frame.key, frame.member = nil, nil
      if c == CLOSE_BRACE then
        reject(i, "a trailing comma before '}'", "remove the comma after the last member")
      elseif c ~= QUOTE then
        local problem, fix = explain_unexpected(s, i, "a key in double quotes")
        if c and (c == 95 or find(char(c), "%a")) then
          problem, fix = "a key without quotes", "put every key in double quotes"
        end
        reject(i, problem, fix)
      end
      local key_start = i
      local key
      i, key = scan_string(s, i, true)
      -- The transcoder reads a key as a field only when it is the field's
      -- proto name or JSON name exactly, so journal_Text is an unknown key.
      -- Both names of a field count as one key. frame.fields is nil in a
      -- map, a well-known type or an unknown key's object, whose keys are
      -- compared as written.
      local field = frame.fields and frame.fields[key]
      if frame.fields and not field then
        -- Both texts are built only for a violation that is kept, so a
        -- body of many unknown keys costs a constant amount of work per key.
        local message = frame.message
        add_violation(violations, function()
          return append_key(field_path(stack), key)
        end, function()
          return format("unknown field %s: %s", "'" .. without_controls(shorten(key)) .. "'", ACCEPTED_KEYS[message])
        end)
      end
      local name = field and field.name or key
      local earlier = frame.keys[name]
      if earlier == key then
        reject(key_start, "duplicate key " .. json_string(shorten(key)), "send each field once")
      elseif earlier then
        reject(key_start, format("keys %s and %s name the same field", json_string(shorten(earlier)),
          json_string(shorten(key))), "send each field once, under one name")
      end
      frame.keys[name] = key
      frame.key = key
      frame.member = frame.map_value or field

      i = skip_whitespace(s, i)
      if byte(s, i) ~= COLON then
        reject(i, explain_unexpected(s, i, "':' after the key"))
      end
      i, state = i + 1, "value"
      expect, element = frame.member, frame.map_value ~= nil

    else -- after a value
      local frame = stack[#stack]
      if frame == nil then
        if c ~= nil then
          reject(i, "more after the JSON object", "send exactly one object")
        end
        return
      end
      if c == COMMA then
        if frame.is_array then
          frame.index = frame.index + 1
          i, state = i + 1, "value"
          expect, element = frame.element_field, true
        else
          i, state = i + 1, "key"
        end
      elseif c == (frame.is_array and CLOSE_BRACKET or CLOSE_BRACE) then
        stack[#stack] = nil
        i = i + 1
      else
        local closing = frame.is_array and "']'" or "'}'"
        local problem, fix = explain_unexpected(s, i, "',' or " .. closing)
        if c == QUOTE or c == OPEN_BRACE or c == OPEN_BRACKET or is_digit(c) then
          problem, fix = "a missing comma", "put a ',' between members and between elements"
        end
        reject(i, problem, fix)
      end
    end
  end
end
-- --- Replies -----------------------------------------------------------------

-- Returns an error in the shared shape, the JSON form of google.rpc.Status.
-- failure.violations, when given, become a BadRequest detail.
local function error_body(failure, request_id)
  local details = {
    format('{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":%s,"domain":%s,"metadata":{"request_id":%s}}',
      json_string(failure.reason), json_string(DOMAIN), json_string(printable_header(request_id))),
  }
  if failure.violations then
    local listed = {}
    for index, violation in ipairs(failure.violations) do
      listed[index] = format('{"field":%s,"description":%s}', json_string(violation.field),
        json_string(violation.description))
    end
    details[2] = format('{"@type":"type.googleapis.com/google.rpc.BadRequest","field_violations":[%s]}',
      concat(listed, ","))
  end
  return format('{"code":%d,"message":%s,"details":[%s]}', failure.grpc_code, json_string(failure.message),
    concat(details, ","))
end

-- Returns the 400 INVALID_REQUEST body for field violations. The message
-- repeats the first, as "<field>: <description> (and N more)", the form
-- the services use.
local function invalid_request_body(violations, request_id)
  local first = violations[1]
  local message = first.field ~= "" and (first.field .. ": " .. first.description) or first.description
  if violations.count > 1 then
    message = format("%s (and %d more)", message, violations.count - 1)
  end
  return error_body({ grpc_code = 3, reason = "INVALID_REQUEST", message = message, violations = violations },
    request_id)
end

-- Returns nil when content_type is application/json with an optional
-- charset=utf-8, or else the reason it is not.
local function content_type_problem(content_type)
  local media_type, parameters = content_type:lower():match("^[ \t]*([^;]*)(.*)$")
  if media_type:match("^(.-)[ \t]*$") ~= "application/json" then
    return format("Content-Type %s is not supported for a request body",
      json_string(shorten(printable_header(content_type))))
  end
  for parameter in parameters:gmatch("[^;]+") do
    local name, value = parameter:match("^[ \t]*([^=]-)[ \t]*=[ \t]*(.-)[ \t]*$")
    if name == "charset" and value:gsub('^"(.*)"$', "%1") ~= "utf-8" then
      return format("Content-Type %s names a charset other than utf-8",
        json_string(shorten(printable_header(content_type))))
    end
  end
  return nil
end

-- Returns nil when content_encoding is absent or lists only identity, or
-- else the reason it is not accepted. The edge checks and transcodes the
-- body bytes as sent, so it takes no compressed body (gRPC calls compress
-- messages with grpc-encoding instead, which this script does not see).
local function content_encoding_problem(content_encoding)
  if content_encoding == nil then
    return nil
  end
  for coding in gmatch(content_encoding, "[^,]+") do
    local name = lower(match(coding, "^[ \t]*(.-)[ \t]*$"))
    if name ~= "identity" and name ~= "" then
      return format("Content-Encoding %s is not supported for a request body",
        json_string(shorten(printable_header(content_encoding))))
    end
  end
  return nil
end

-- Returns the 415 for a Content-Encoding other than identity, with the
-- Accept-Encoding header that RFC 7694 asks of it, or nil.
local function content_encoding_rejection(headers, request_id)
  local encoding_problem = content_encoding_problem(headers:get("content-encoding"))
  if not encoding_problem then
    return nil
  end
  return 415, error_body({
    grpc_code = 3, reason = "UNSUPPORTED_CONTENT_ENCODING",
    message = encoding_problem .. ": send the body uncompressed, without a Content-Encoding header",
  }, request_id), { ["accept-encoding"] = "identity" }
end

-- Returns the HTTP status, the error body and extra response headers that
-- reject a request with this body, or nil to let it through. route is nil
-- for a path outside the descriptor, whose body gets the JSON checks only.
local function check_request_body(route, headers, body, request_id)
  local content_type = headers:get("content-type")
  local media_problem
  if content_type == nil then
    media_problem = "no Content-Type header on a request with a body"
  else
    media_problem = content_type_problem(content_type)
  end
  if media_problem then
    return 415, error_body({
      grpc_code = 3, reason = "UNSUPPORTED_MEDIA_TYPE",
      message = media_problem .. ": send Content-Type: application/json with a UTF-8 JSON body",
    }, request_id)
  end
  local status, reply, extra_headers = content_encoding_rejection(headers, request_id)
  if status then
    return status, reply, extra_headers
  end

  local stack = {}
  local root = route and { kind = "message", type = route.body_message } or nil
  local violations = new_violations()
  local ok, violation = pcall(check_body, body, stack, root, violations)
  if not ok then
    if getmetatable(violation) ~= Violation then
      error(violation, 0)
    end
    local path = json_path(stack)
    local position = line_and_column(body, violation.position)
    return 400, error_body({
      grpc_code = 3, reason = "INVALID_JSON",
      message = format("invalid JSON body: %s at %s (%s): %s", violation.problem, path, position, violation.fix),
      violations = { { field = path, description = format("%s (%s): %s", violation.problem, position, violation.fix) } },
    }, request_id)
  end
  if violations.count > 0 then
    return 400, invalid_request_body(violations, request_id)
  end
  return nil
end

-- Returns the HTTP status and the error body that reject the query string
-- of a request to route, or nil to let it through.
local function check_request_query(route, query, request_id)
  local violations = check_query(route, query)
  if violations.count > 0 then
    return 400, invalid_request_body(violations, request_id)
  end
  return nil
end

-- Checks the headers of a raw-body route (the Stripe webhook), which skips
-- ext_authz and so the gateway's header checks. A compressed body cannot be
-- what its signature covers. Header values outside ASCII are removed, and
-- rejected in Stripe-Signature, because the service's gRPC library logs
-- each value that is not UTF-8, and the signature with it. Returns the
-- status, body and extra headers of a rejection, or nil.
local function check_raw_request(headers, request_id)
  local status, reply, extra_headers = content_encoding_rejection(headers, request_id)
  if status then
    return status, reply, extra_headers
  end
  local signature = headers:get("stripe-signature")
  if signature and find(signature, "[^\32-\126]") then
    return 400, error_body({
      grpc_code = 3, reason = "STRIPE_SIGNATURE_INVALID",
      message = "the Stripe-Signature header has characters outside printable ASCII; it must be t=<unix seconds>,v1=<hex HMAC-SHA256>",
    }, request_id)
  end
  local request_id_value = headers:get("x-request-id")
  if request_id_value and find(request_id_value, "[^\32-\126]") then
    return 400, error_body({
      grpc_code = 3, reason = "INVALID_REQUEST_ID",
      message = "x-request-id must be printable ASCII; send a UUID, or leave it out and the edge makes one",
    }, "")
  end
  local non_ascii = {}
  for name, value in pairs(headers) do
    if sub(name, 1, 1) ~= ":" and find(value, "[\128-\255]") then
      non_ascii[#non_ascii + 1] = name
    end
  end
  for _, name in ipairs(non_ascii) do
    headers:remove(name)
  end
  return nil
end

-- Returns a 405 with an Allow header (RFC 9110) for a known REST path
-- called with a method it does not take, or nil.
local function method_not_allowed(headers, request_id)
  local path = headers:get(":path") or ""
  local allowed = allowed_methods(path)
  if not allowed then
    return nil
  end
  local method = headers:get(":method") or ""
  local route_path = match(path, "^[^?]*")
  return 405, error_body({
    grpc_code = 12, reason = "METHOD_NOT_ALLOWED",
    message = format("%s is not allowed on %s, which takes %s", shorten(printable_header(method)),
      shorten(printable_header(route_path)), allowed),
  }, request_id), { allow = allowed }
end

local function is_grpc_call(headers)
  local content_type = headers:get("content-type") or ""
  return headers:get(":method") == "POST"
    and (content_type == "application/grpc" or sub(content_type, 1, 17) == "application/grpc+")
end

-- Returns the body limit in bytes that the set_metadata filter before this
-- one passes in (ext_authz's max_request_bytes), or nil when it is missing.
local function max_body_bytes(handle)
  local settings = handle:streamInfo():dynamicMetadata():get("defrag.strict_json")
  return settings and tonumber(settings.max_body_bytes)
end

-- Rejects an empty body on a route that takes one. The transcoder would read
-- it as a message with no field set, which the service rejects after the
-- gateway has charged the call.
local function empty_body_rejection(request_id)
  return 400, error_body({
    grpc_code = 3, reason = "INVALID_JSON",
    message = "the request body is empty: send one JSON object with the method's fields, "
      .. "and Content-Type: application/json",
  }, request_id)
end

-- Sends 413, which local_reply_config gives the same JSON body as the
-- edge's other 413s.
local function respond_too_large(handle)
  handle:respond({ [":status"] = "413" }, "request body too large")
end

-- Sends the reply of a check that ran under pcall: its rejection, or a 500
-- when the check itself raised. Returns whether a reply was sent.
local function send_rejection(handle, request_id, ok, status, reply, extra_headers)
  if not ok then
    -- The request id lets the caller's report be matched to this line.
    handle:logErr(format("strict request check failed, request_id=%s: %s", sub(printable_header(request_id), 1, 128),
      tostring(status)))
    status, reply, extra_headers = 500, error_body({
      grpc_code = 13, reason = "INTERNAL",
      message = "the edge could not check the request; send it again, and report the request id if this repeats",
    }, request_id), nil
  end
  if not status then
    return false
  end
  local response_headers = { [":status"] = tostring(status), ["content-type"] = "application/json" }
  for name, value in pairs(extra_headers or {}) do
    response_headers[name] = value
  end
  -- local_reply_config passes this script's 400, 415 and 500 through as they are.
  handle:respond(response_headers, reply)
  return true
end

-- Envoy lets a request through when this function raises, so the code here
-- stays small and the checks run under pcall. A fault in them rejects the
-- request with a 500 instead.
function envoy_on_request(handle)
  local headers = handle:headers()
  if is_grpc_call(headers) then
    return
  end
  local request_id = headers:get("x-request-id") or ""
  local found, route, query = pcall(find_route, headers:get(":method") or "", headers:get(":path") or "")
  if not found then
    send_rejection(handle, request_id, false, route)
    return
  end
  if route == nil and send_rejection(handle, request_id, pcall(method_not_allowed, headers, request_id)) then
    return
  end

  -- A body over the limit gets 413 before any other check, as it did before
  -- this script, and a declared length over it is rejected unread.
  local limit = max_body_bytes(handle)
  local content_length = headers:get("content-length")
  local declared_length = content_length and tonumber(content_length)
  if limit and declared_length and declared_length > limit then
    respond_too_large(handle)
    return
  end

  -- The query string is checked before the body is read.
  if route and send_rejection(handle, request_id, pcall(check_request_query, route, query, request_id)) then
    return
  end

  if route and route.raw_body then
    if send_rejection(handle, request_id, pcall(check_raw_request, headers, request_id)) then
      return
    end
  end
  local buffer = handle:body()
  if route and route.raw_body then
    if limit and buffer ~= nil and buffer:length() > limit then
      respond_too_large(handle)
    end
    return
  end
  if buffer == nil or buffer:length() == 0 then
    if route and route.body and route.body ~= "" then
      send_rejection(handle, request_id, pcall(empty_body_rejection, request_id))
    end
    return
  end
  if limit and buffer:length() > limit then
    respond_too_large(handle)
    return
  end

  -- A headers object does not outlive the wait in body(), so it is fetched again.
  headers = handle:headers()
  send_rejection(handle, request_id,
    pcall(check_request_body, route, headers, buffer:getBytes(0, buffer:length()), request_id))
end
