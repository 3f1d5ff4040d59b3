ALTER TABLE "payment_intents" DROP CONSTRAINT "payment_intents_refund_check";--> statement-breakpoint
ALTER TABLE "payment_intents" ADD COLUMN "charged_back_amount" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Chargebacks used to be added to refunded_amount. Each one left a `chargeback` event with what it took back
-- (`chargedBack`), so their sum moves to the new column and refunded_amount keeps the refunds alone: what was taken
-- back in all, and so the credits reversed and the status, stay as they were.
UPDATE "payment_intents" SET
  "charged_back_amount" = LEAST("taken"."amount", "payment_intents"."refunded_amount"),
  "refunded_amount" = "payment_intents"."refunded_amount" - LEAST("taken"."amount", "payment_intents"."refunded_amount")
FROM (
  SELECT "intent_id", sum(GREATEST(("details"->>'chargedBack')::bigint, 0)) AS "amount"
  FROM "payment_events"
  WHERE "type" = 'chargeback' AND "intent_id" IS NOT NULL AND jsonb_typeof("details"->'chargedBack') = 'number'
  GROUP BY "intent_id"
) AS "taken"
WHERE "payment_intents"."id" = "taken"."intent_id";--> statement-breakpoint
ALTER TABLE "payment_intents" ADD CONSTRAINT "payment_intents_refund_check" CHECK ("payment_intents"."refunded_amount" >= 0 and "payment_intents"."charged_back_amount" >= 0 and "payment_intents"."refunded_amount" + "payment_intents"."charged_back_amount" <= "payment_intents"."amount");
