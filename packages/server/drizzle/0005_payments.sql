CREATE TABLE "credit_packs" (
	"id" text NOT NULL,
	"name" text NOT NULL,
	"credits" bigint NOT NULL,
	"prices" jsonb NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "credit_packs_id_pk" PRIMARY KEY("id"),
	CONSTRAINT "credit_packs_credits_check" CHECK ("credit_packs"."credits" > 0)
);
--> statement-breakpoint
CREATE TABLE "payment_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"intent_id" uuid,
	"provider" text,
	"provider_event_id" text,
	"type" text NOT NULL,
	"from_status" text,
	"to_status" text,
	"cause" text NOT NULL,
	"actor_id" uuid,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment_intents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"wallet_id" uuid NOT NULL,
	"purpose" text NOT NULL,
	"purpose_ref" text NOT NULL,
	"credits" bigint NOT NULL,
	"provider" text NOT NULL,
	"currency" text NOT NULL,
	"amount" bigint NOT NULL,
	"status" text DEFAULT 'created' NOT NULL,
	"provider_ref" text,
	"provider_payment_id" text,
	"checkout_url" text,
	"bank_reference" text,
	"locale" text DEFAULT 'en' NOT NULL,
	"refunded_amount" bigint DEFAULT 0 NOT NULL,
	"credits_reversed" bigint DEFAULT 0 NOT NULL,
	"failure_reason" text,
	"paid_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_intents_amount_check" CHECK ("payment_intents"."amount" > 0 and "payment_intents"."credits" > 0),
	CONSTRAINT "payment_intents_refund_check" CHECK ("payment_intents"."refunded_amount" >= 0 and "payment_intents"."refunded_amount" <= "payment_intents"."amount")
);
--> statement-breakpoint
CREATE TABLE "payment_proofs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"intent_id" uuid NOT NULL,
	"content_type" text NOT NULL,
	"size" integer NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment_receipt_counters" (
	"year" integer PRIMARY KEY NOT NULL,
	"last" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment_receipts" (
	"intent_id" uuid PRIMARY KEY NOT NULL,
	"year" integer NOT NULL,
	"sequence" integer NOT NULL,
	"number" text NOT NULL,
	"issued_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "payment_events_intent_idx" ON "payment_events" USING btree ("intent_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_events_provider_event_idx" ON "payment_events" USING btree ("provider","provider_event_id") WHERE "payment_events"."provider_event_id" is not null;--> statement-breakpoint
CREATE INDEX "payment_intents_user_idx" ON "payment_intents" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_intents_provider_ref_idx" ON "payment_intents" USING btree ("provider","provider_ref") WHERE "payment_intents"."provider_ref" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "payment_intents_bank_reference_idx" ON "payment_intents" USING btree ("bank_reference") WHERE "payment_intents"."bank_reference" is not null;--> statement-breakpoint
CREATE INDEX "payment_proofs_intent_idx" ON "payment_proofs" USING btree ("intent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_receipts_year_sequence_idx" ON "payment_receipts" USING btree ("year","sequence");