CREATE TABLE "studio_conversations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"folder_id" uuid,
	"title" text DEFAULT '' NOT NULL,
	"model" text,
	"system_prompt" text DEFAULT '' NOT NULL,
	"pinned_at" timestamp with time zone,
	"active_leaf_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "studio_folders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "studio_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"conversation_id" uuid NOT NULL,
	"parent_id" uuid,
	"role" text NOT NULL,
	"content" text NOT NULL,
	"attachments" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"model" text,
	"request_id" text,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"credits" bigint DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'complete' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "studio_messages_role_check" CHECK ("studio_messages"."role" in ('user', 'assistant')),
	CONSTRAINT "studio_messages_credits_check" CHECK ("studio_messages"."credits" >= 0)
);
--> statement-breakpoint
CREATE TABLE "studio_presets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"model" text,
	"system_prompt" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "studio_conversations" ADD CONSTRAINT "studio_conversations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "studio_conversations" ADD CONSTRAINT "studio_conversations_folder_id_studio_folders_id_fk" FOREIGN KEY ("folder_id") REFERENCES "public"."studio_folders"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "studio_folders" ADD CONSTRAINT "studio_folders_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "studio_messages" ADD CONSTRAINT "studio_messages_conversation_id_studio_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."studio_conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "studio_messages" ADD CONSTRAINT "studio_messages_parent_id_studio_messages_id_fk" FOREIGN KEY ("parent_id") REFERENCES "public"."studio_messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "studio_presets" ADD CONSTRAINT "studio_presets_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "studio_conversations_user_updated_idx" ON "studio_conversations" USING btree ("user_id","updated_at");--> statement-breakpoint
CREATE INDEX "studio_folders_user_idx" ON "studio_folders" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "studio_messages_conversation_idx" ON "studio_messages" USING btree ("conversation_id","created_at");--> statement-breakpoint
CREATE INDEX "studio_presets_user_idx" ON "studio_presets" USING btree ("user_id");