-- A write that must change a row (a stage's update, a job's completion)
-- is checked by the server, so that it can go in the same round trip as
-- the COMMIT that follows it (sqlstore's execOne): wrapped as
--   WITH changed AS (<write> RETURNING 1) SELECT sluice_changed(count(*)) FROM changed
-- it fails, and so does the transaction, when it changed nothing.
CREATE FUNCTION sluice_changed(n bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'no row to change' USING ERRCODE = 'no_data_found';
    END IF;
    RETURN n;
END
$$;
