-- POST /api/runs/ with a JSON body: each request stores a forecast run (raise RUNS_RATE first).
wrk.method = "POST"
wrk.path = "/api/runs/"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"regions": ["900", "903"], "from": 2030, "to": 2035}'
