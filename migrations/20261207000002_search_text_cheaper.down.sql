CREATE OR REPLACE FUNCTION search_text(body text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(
        regexp_replace(body, '\$([A-Za-z][A-Za-z0-9]{0,15})', '\1 zzcashtag\1', 'g'),
        '@([A-Za-z][A-Za-z0-9_]{2,31})', '\1 zzmention\1', 'g')
$$;
