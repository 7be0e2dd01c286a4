CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" varchar(100) NOT NULL,
	"role" varchar(5) NOT NULL,
	"owner_id" varchar(200) NOT NULL,
	"key_hash" varchar(64) NOT NULL,
	"key_prefix" varchar(16) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_keys_role" CHECK ("api_keys"."role" in ('admin', 'user'))
);
--> statement-breakpoint
DROP INDEX "chat_sessions_created_at";--> statement-breakpoint
-- Edited by hand after drizzle-kit generate: rows made before owners existed belong to 'local', and
-- personas made before then become shared. The defaults fill those rows and are then dropped, so the
-- tables end as the schema (and its snapshot) says: every new row names its owner.
ALTER TABLE "chat_sessions" ADD COLUMN "owner_id" varchar(200) DEFAULT 'local' NOT NULL;--> statement-breakpoint
ALTER TABLE "chat_sessions" ALTER COLUMN "owner_id" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "personas" ADD COLUMN "owner_id" varchar(200) DEFAULT 'local' NOT NULL;--> statement-breakpoint
ALTER TABLE "personas" ALTER COLUMN "owner_id" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "personas" ADD COLUMN "shared" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "personas" ALTER COLUMN "shared" SET DEFAULT false;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "chat_sessions_owner_created_at" ON "chat_sessions" USING btree ("owner_id","created_at");--> statement-breakpoint
CREATE INDEX "personas_owner_id" ON "personas" USING btree ("owner_id");