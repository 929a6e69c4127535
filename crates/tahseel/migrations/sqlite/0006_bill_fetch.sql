-- Bill fetch: a service may present its bills from the agency's own endpoint.

ALTER TABLE services ADD COLUMN fetch_url TEXT;
