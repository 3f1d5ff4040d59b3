-- Accounts erased before erasure took people out of their organisations are still members, some the only owner (so
-- nobody can manage the organisation, its keys or its wallet), some with keys still live (erasure did not revoke them
-- yet either). Today's erasure rules, applied to them once, as `eraseAccount` and `removeAllMemberships` would:
-- 1. every live key of an erased account is revoked (the verifier already refuses them; now they say so);
UPDATE "virtual_keys" SET "revoked_at" = now()
WHERE "revoked_at" IS NULL AND "user_id" IN (SELECT "id" FROM "users" WHERE "status" = 'deleted');--> statement-breakpoint
-- 2. where erased accounts were the only owners, the longest-standing member whose account is active (earliest to
--    join, then lowest id) becomes owner, recorded as the code records it (`organization.owner_promoted`, reason
--    `account_erased`, previous owner: the erased owner who joined last); with no such member the organisation stays
--    without an owner, its wallet untouched;
WITH "successors" AS (
  SELECT DISTINCT ON ("member"."organization_id")
    "member"."organization_id",
    "member"."user_id",
    (
      SELECT "owner"."user_id" FROM "organization_members" AS "owner"
      INNER JOIN "users" AS "owner_account" ON "owner_account"."id" = "owner"."user_id"
      WHERE "owner"."organization_id" = "member"."organization_id" AND "owner"."role" = 'owner'
        AND "owner_account"."status" = 'deleted'
      ORDER BY "owner"."created_at" DESC, "owner"."user_id" DESC
      LIMIT 1
    ) AS "previous_owner_id"
  FROM "organization_members" AS "member"
  INNER JOIN "users" AS "account" ON "account"."id" = "member"."user_id"
  WHERE "account"."status" = 'active'
    AND EXISTS (
      SELECT 1 FROM "organization_members" AS "owner"
      INNER JOIN "users" AS "owner_account" ON "owner_account"."id" = "owner"."user_id"
      WHERE "owner"."organization_id" = "member"."organization_id" AND "owner"."role" = 'owner'
        AND "owner_account"."status" = 'deleted'
    )
    AND NOT EXISTS (
      SELECT 1 FROM "organization_members" AS "owner"
      INNER JOIN "users" AS "owner_account" ON "owner_account"."id" = "owner"."user_id"
      WHERE "owner"."organization_id" = "member"."organization_id" AND "owner"."role" = 'owner'
        AND "owner_account"."status" <> 'deleted'
    )
  ORDER BY "member"."organization_id", "member"."created_at", "member"."user_id"
),
"promoted" AS (
  UPDATE "organization_members" SET "role" = 'owner', "updated_at" = now()
  FROM "successors"
  WHERE "organization_members"."organization_id" = "successors"."organization_id"
    AND "organization_members"."user_id" = "successors"."user_id"
)
INSERT INTO "audit_events" ("user_id", "type", "details")
SELECT "user_id", 'organization.owner_promoted', jsonb_build_object(
  'organizationId', "organization_id",
  'previousOwnerId', "previous_owner_id",
  'reason', 'account_erased'
)
FROM "successors";--> statement-breakpoint
-- 3. and every membership of an erased account ends.
DELETE FROM "organization_members"
WHERE "user_id" IN (SELECT "id" FROM "users" WHERE "status" = 'deleted');
