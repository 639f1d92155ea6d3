-- The code flow of a person who already has a session: GET authorize with the session cookie
-- (answered by a redirect carrying a fresh code), then the code exchanged at the token endpoint
-- (client_secret_basic, PKCE S256). Codes are single-use, so each exchange uses the code the same
-- thread received last; one completed unit is one token response 200.
-- BENCH_AUTHORIZE (path?query), BENCH_COOKIE, BENCH_TOKEN_PATH, BENCH_AUTH, BENCH_REDIRECT_URI,
-- BENCH_CODE_VERIFIER.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local authorize = os.getenv("BENCH_AUTHORIZE")
local cookie = os.getenv("BENCH_COOKIE")
local token_path = os.getenv("BENCH_TOKEN_PATH")
local auth = os.getenv("BENCH_AUTH")
local redirect = os.getenv("BENCH_REDIRECT_URI")
local verifier = os.getenv("BENCH_CODE_VERIFIER")
local codes = {}

local function form_escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  local code = table.remove(codes)
  if code then
    -- `code` comes percent-encoded from the Location header: sent as it came.
    return wrk.format("POST", token_path,
      { ["Authorization"] = auth, ["Content-Type"] = "application/x-www-form-urlencoded" },
      "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. form_escape(redirect) ..
      "&code_verifier=" .. verifier)
  end
  return wrk.format("GET", authorize, { ["Cookie"] = cookie })
end

function response(status, headers, body)
  count(status)
  local location = headers["Location"] or headers["location"]
  if location then
    local code = location:match("[?&]code=([^&]+)")
    if code then table.insert(codes, code) end
  elseif status == 200 then
    completed = completed + 1
  end
end
