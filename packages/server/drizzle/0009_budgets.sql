CREATE TABLE "billing_user_budgets" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"daily_credits" integer,
	"monthly_credits" integer,
	"daily_requests" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "virtual_keys" ADD COLUMN "daily_credit_budget" integer;--> statement-breakpoint
ALTER TABLE "virtual_keys" ADD COLUMN "monthly_credit_budget" integer;--> statement-breakpoint
ALTER TABLE "virtual_keys" ADD COLUMN "daily_request_quota" integer;--> statement-breakpoint
ALTER TABLE "billing_user_budgets" ADD CONSTRAINT "billing_user_budgets_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;