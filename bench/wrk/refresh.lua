-- Refresh with rotation: each refresh token is used once and the answer's new one goes back to
-- the thread's pool. BENCH_TOKENS_FILE holds one refresh token per line (more than the
-- connections: wrk builds one request more than it has connections at the start); thread k
-- of n takes lines k, k+n, … BENCH_TOKEN_PATH, BENCH_AUTH.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local token_path = os.getenv("BENCH_TOKEN_PATH")
local auth = os.getenv("BENCH_AUTH")
local pool = {}

function init(args)
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    if line ~= "" and i % nthreads == id - 1 then table.insert(pool, line) end
    i = i + 1
  end
end

function request()
  -- An empty pool only follows failed refreshes: the request then fails visibly (invalid_grant).
  local token = table.remove(pool, 1) or "spent"
  return wrk.format("POST", token_path,
    { ["Authorization"] = auth, ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  count(status)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      table.insert(pool, token)
      completed = completed + 1
    end
  end
end
