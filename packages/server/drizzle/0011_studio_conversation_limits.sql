ALTER TABLE "studio_conversations" ADD COLUMN "message_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "studio_conversations" ADD COLUMN "stored_bytes" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Existing conversations start from what they already hold, measured as addMessage measures a new message: the
-- UTF-8 bytes of its text plus those of each inline image's data URL.
UPDATE "studio_conversations" AS "conversation"
SET "message_count" = "held"."messages", "stored_bytes" = "held"."bytes"
FROM (
	SELECT "conversation_id", count(*)::integer AS "messages",
		sum(octet_length("content") + coalesce((
			SELECT sum(octet_length("image" ->> 'dataUrl')) FROM jsonb_array_elements("attachments") AS "image"
		), 0))::bigint AS "bytes"
	FROM "studio_messages"
	GROUP BY "conversation_id"
) AS "held"
WHERE "held"."conversation_id" = "conversation"."id";
