-- At most one pending access request per person, service and establishment, even when two
-- nodes receive the same request at the same instant (the pages check first; this decides).
CREATE UNIQUE INDEX access_requests_one_pending
    ON access_requests (user_id, service_code, siret) WHERE status = 'pending';
