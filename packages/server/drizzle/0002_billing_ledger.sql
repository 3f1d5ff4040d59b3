CREATE TABLE "credit_holds" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"wallet_id" uuid NOT NULL,
	"amount" bigint NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"request_id" text NOT NULL,
	"member_user_id" text,
	"expires_at" timestamp with time zone NOT NULL,
	"settle_key" text,
	"held_at_finish" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "credit_holds_amount_check" CHECK ("credit_holds"."amount" >= 0),
	CONSTRAINT "credit_holds_status_check" CHECK ("credit_holds"."status" in ('active', 'settled', 'released', 'expired'))
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"idempotency_key" text NOT NULL,
	"kind" text NOT NULL,
	"wallet_id" uuid NOT NULL,
	"counter_wallet_id" uuid NOT NULL,
	"amount" bigint NOT NULL,
	"balance_after" bigint NOT NULL,
	"hold_id" uuid,
	"request_id" text,
	"model" text,
	"key_id" text,
	"member_user_id" text,
	"price_version" integer,
	"payment_id" text,
	"order_id" text,
	"reason" text,
	"details" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_entries_amount_check" CHECK ("ledger_entries"."amount" <> 0),
	CONSTRAINT "ledger_entries_two_legs_check" CHECK ("ledger_entries"."wallet_id" <> "ledger_entries"."counter_wallet_id"),
	CONSTRAINT "ledger_entries_kind_check" CHECK ("ledger_entries"."kind" in ('top_up', 'grant', 'plan_credit', 'usage', 'refund', 'adjustment')),
	CONSTRAINT "ledger_entries_adjustment_reason_check" CHECK ("ledger_entries"."kind" <> 'adjustment' or length("ledger_entries"."reason") > 0)
);
--> statement-breakpoint
CREATE TABLE "prices" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "prices_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"item_key" text NOT NULL,
	"kind" text NOT NULL,
	"version" integer NOT NULL,
	"rates" jsonb NOT NULL,
	"source" text NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"superseded_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "billing_subscriptions" (
	"wallet_id" uuid PRIMARY KEY NOT NULL,
	"plan" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"renewed_period" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "wallets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_type" text NOT NULL,
	"owner_id" text NOT NULL,
	"balance" bigint DEFAULT 0 NOT NULL,
	"held" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "wallets_owner_type_check" CHECK ("wallets"."owner_type" in ('user', 'organization', 'system')),
	CONSTRAINT "wallets_never_overspent_check" CHECK ("wallets"."owner_type" = 'system' or ("wallets"."held" >= 0 and "wallets"."balance" >= "wallets"."held"))
);
--> statement-breakpoint
ALTER TABLE "credit_holds" ADD CONSTRAINT "credit_holds_wallet_id_wallets_id_fk" FOREIGN KEY ("wallet_id") REFERENCES "public"."wallets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_wallet_id_wallets_id_fk" FOREIGN KEY ("wallet_id") REFERENCES "public"."wallets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_subscriptions" ADD CONSTRAINT "billing_subscriptions_wallet_id_wallets_id_fk" FOREIGN KEY ("wallet_id") REFERENCES "public"."wallets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "credit_holds_active_expiry_idx" ON "credit_holds" USING btree ("expires_at") WHERE "credit_holds"."status" = 'active';--> statement-breakpoint
CREATE INDEX "credit_holds_wallet_idx" ON "credit_holds" USING btree ("wallet_id");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_entries_idempotency_key_idx" ON "ledger_entries" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "ledger_entries_wallet_idx" ON "ledger_entries" USING btree ("wallet_id","id");--> statement-breakpoint
CREATE INDEX "ledger_entries_counter_wallet_idx" ON "ledger_entries" USING btree ("counter_wallet_id");--> statement-breakpoint
CREATE UNIQUE INDEX "prices_item_version_idx" ON "prices" USING btree ("item_key","version");--> statement-breakpoint
CREATE UNIQUE INDEX "prices_current_idx" ON "prices" USING btree ("item_key") WHERE "prices"."superseded_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "wallets_owner_idx" ON "wallets" USING btree ("owner_type","owner_id");