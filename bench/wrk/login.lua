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

local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end
