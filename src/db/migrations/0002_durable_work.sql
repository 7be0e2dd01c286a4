CREATE TABLE "audio_jobs" (
	"key" varchar(300) PRIMARY KEY NOT NULL,
	"reply_text" text NOT NULL,
	"voice_id" varchar(100) NOT NULL,
	"state" varchar(7) DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"run_after" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"locked_by" uuid,
	"locked_at" timestamp (3) with time zone,
	"last_error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audio_jobs_state" CHECK ("audio_jobs"."state" in ('pending', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"owner_id" varchar(200) NOT NULL,
	"key" varchar(255) NOT NULL,
	"session_id" uuid NOT NULL,
	"fingerprint" varchar(64) NOT NULL,
	"locked_by" uuid,
	"reply_seq" integer,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_owner_id_key_pk" PRIMARY KEY("owner_id","key")
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" uuid PRIMARY KEY NOT NULL,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"seen_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_session_id_chat_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."chat_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audio_jobs_due" ON "audio_jobs" USING btree ("state","run_after");--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_at" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idempotency_keys_session_id" ON "idempotency_keys" USING btree ("session_id");