CREATE TABLE "account_erasures" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"addresses" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "account_erasures" ADD CONSTRAINT "account_erasures_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_actor_idx" ON "audit_events" USING btree ("actor_id","created_at") WHERE "audit_events"."actor_id" is not null;--> statement-breakpoint
-- Accounts erased before erasure pseudonymised the trail still have their IP addresses and user agents on their
-- sessions and events, and the addresses they changed between in their `email.changed` events: each gets a row, so
-- the erasure sweep takes them out as it does for an erasure today. Their last address and their name were
-- overwritten then; what is left of them is the addresses their events name that no other account holds now.
INSERT INTO "account_erasures" ("user_id", "addresses")
SELECT "erased"."id", COALESCE((
  SELECT jsonb_agg(DISTINCT "changed"."address")
  FROM "audit_events" AS "event"
  CROSS JOIN LATERAL (VALUES ("event"."details"->>'from'), ("event"."details"->>'to')) AS "changed"("address")
  WHERE "event"."user_id" = "erased"."id" AND "event"."type" = 'email.changed' AND "changed"."address" IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM "users" AS "holder" WHERE "holder"."email" = "changed"."address")
), '[]'::jsonb)
FROM "users" AS "erased"
WHERE "erased"."status" = 'deleted'
ON CONFLICT DO NOTHING;
