-- billing_write_usage_batch (0008) told a retried batch that had committed by its FIRST entry's key. An entry whose
-- lease had lapsed is not written by the function (it comes back as 'late' and the caller charges it), so when that
-- entry came first, a batch that had committed looked unwritten on its retry: the other entries were inserted again,
-- hit the unique idempotency key, and the batch failed on every retry, forever, holding back every later usage entry
-- of the process (and its late entries were never charged). A late entry charged after the batch committed, whose
-- charge then failed, was lost the same way.
-- Now `first_key` is NULL on a batch's first attempt (its keys are new: nothing to check) and set on a retry, where
-- each entry is checked by its OWN key: what an earlier attempt wrote is skipped, the rest is written or reported late.
CREATE OR REPLACE FUNCTION "billing_write_usage_batch"("entries" json, "first_key" text, "revenue" uuid, "lease_expires_at" timestamptz)
RETURNS TABLE ("kind" text, "id" text, "balance" bigint) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  WITH x AS (
    SELECT * FROM json_to_recordset(entries) AS x(
      ord int, k text, wallet_id uuid, hold_id uuid, amount bigint, request_id text, model text,
      key_id text, member_user_id text, price_version int, details jsonb)
  ),
  fresh AS (
    SELECT x.* FROM x
    WHERE first_key IS NULL OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = x.k)
  ),
  per_hold AS (SELECT fresh.hold_id, sum(fresh.amount)::bigint AS total FROM fresh GROUP BY fresh.hold_id),
  h AS (
    UPDATE credit_holds
    SET amount = credit_holds.amount - per_hold.total, expires_at = lease_expires_at
    FROM per_hold
    WHERE credit_holds.id = per_hold.hold_id AND credit_holds.status = 'active'
      AND credit_holds.amount >= per_hold.total
    RETURNING credit_holds.id AS hold_id, credit_holds.wallet_id, per_hold.total
  ),
  per_wallet AS (SELECT h.wallet_id, sum(h.total)::bigint AS total FROM h GROUP BY h.wallet_id),
  w AS (
    UPDATE wallets
    SET balance = wallets.balance - per_wallet.total, held = wallets.held - per_wallet.total, updated_at = now()
    FROM per_wallet WHERE wallets.id = per_wallet.wallet_id
    RETURNING wallets.id AS wallet_id, wallets.balance AS balance_now
  ),
  e AS (
    INSERT INTO ledger_entries (idempotency_key, kind, wallet_id, counter_wallet_id, amount, balance_after,
      hold_id, request_id, model, key_id, member_user_id, price_version, details)
    SELECT f.k, 'usage', f.wallet_id, revenue, -f.amount,
      w.balance_now + coalesce(sum(f.amount) OVER (PARTITION BY f.wallet_id ORDER BY f.ord DESC
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0),
      f.hold_id, f.request_id, f.model, f.key_id, f.member_user_id, f.price_version, f.details
    FROM fresh f JOIN h ON h.hold_id = f.hold_id JOIN w ON w.wallet_id = f.wallet_id
    ORDER BY f.ord
    RETURNING 1
  )
  SELECT 'wallet'::text, w.wallet_id::text, w.balance_now FROM w
  UNION ALL
  SELECT 'late'::text, f.k, NULL::bigint FROM fresh f WHERE NOT EXISTS (SELECT 1 FROM h WHERE h.hold_id = f.hold_id);
END
$$;
