-- Password logins on the login form (POST /connexion), the right password each time.
-- A success is a redirect (303) with a new session; 503 is the hashing queue shedding load,
-- 429 the limiter. BENCH_EMAIL, BENCH_PASSWORD, BENCH_CSRF_COOKIE and BENCH_CSRF (one
-- browser's CSRF cookie and the login page's token bound to it).
-- BENCH_DELAY_MS: each connection waits that long before its next attempt, like a person or a
-- client backing off; many such connections offer a fixed load beyond the capacity (a closed
-- loop without pauses would instead measure how fast the load generator can be refused).
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local csrf = os.getenv("BENCH_CSRF")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "idp_csrf=" .. os.getenv("BENCH_CSRF_COOKIE")
wrk.body = "csrf=" .. csrf .. "&authreq=&retour=&email=" .. os.getenv("BENCH_EMAIL") ..
  "&password=" .. os.getenv("BENCH_PASSWORD")

function response(status, headers, body)
  count(status)
  if status == 303 or status == 302 then completed = completed + 1 end
end

-- wrk asks `delay` before a connection's first request too: the whole flood would then start
-- one pause late, the hashing idle meanwhile, charged to the measured run (10 % of a 5 s run
-- at 500 ms). Each connection's first request goes at once, as a flood already under way does.
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local first = math.floor(tonumber(os.getenv("BENCH_CONNECTIONS") or "0") /
  tonumber(os.getenv("BENCH_THREADS") or "1"))
if pause > 0 then
  function delay()
    if first > 0 then
      first = first - 1
      return 0
    end
    return pause
  end
end
