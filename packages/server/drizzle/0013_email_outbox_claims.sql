ALTER TABLE "email_outbox" ALTER COLUMN "text" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "email_outbox" ALTER COLUMN "html" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "email_outbox" ADD COLUMN "claimed_at" timestamp with time zone;--> statement-breakpoint
-- Only SMTP sends: a delivered email's links are its recipient's, so its body leaves the database.
UPDATE "email_outbox" SET "text" = NULL, "html" = NULL WHERE "status" = 'sent';--> statement-breakpoint
CREATE INDEX "email_outbox_sending_idx" ON "email_outbox" USING btree ("claimed_at") WHERE "email_outbox"."status" = 'sending';--> statement-breakpoint
CREATE INDEX "email_outbox_bodies_idx" ON "email_outbox" USING btree ("created_at") WHERE "email_outbox"."text" is not null;