CREATE TABLE "artifacts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"kind" text NOT NULL,
	"path" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "checkpoints" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"stage" text NOT NULL,
	"step" integer NOT NULL,
	"path" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"name" text NOT NULL,
	"source" text NOT NULL,
	"format" text,
	"rows" integer NOT NULL,
	"kept" integer NOT NULL,
	"skipped" integer DEFAULT 0 NOT NULL,
	"statistics" jsonb
);
--> statement-breakpoint
CREATE TABLE "evaluation_examples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"evaluation_id" bigint NOT NULL,
	"example_id" text NOT NULL,
	"task" text,
	"prompt" text,
	"output" text,
	"expected" text,
	"correct" integer,
	"score" double precision
);
--> statement-breakpoint
CREATE TABLE "evaluations" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"kind" text NOT NULL,
	"model" text NOT NULL,
	"metrics" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "metrics" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"stage" text NOT NULL,
	"step" integer NOT NULL,
	"name" text NOT NULL,
	"value" double precision NOT NULL,
	"time" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"preset" text NOT NULL,
	"stages" jsonb NOT NULL,
	"config" jsonb NOT NULL,
	"status" text NOT NULL,
	"directory" text NOT NULL,
	"backend" text,
	"host" text,
	"error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"report" jsonb
);
--> statement-breakpoint
ALTER TABLE "artifacts" ADD CONSTRAINT "artifacts_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "checkpoints" ADD CONSTRAINT "checkpoints_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "datasets" ADD CONSTRAINT "datasets_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "evaluation_examples" ADD CONSTRAINT "evaluation_examples_evaluation_id_evaluations_id_fk" FOREIGN KEY ("evaluation_id") REFERENCES "public"."evaluations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "evaluations" ADD CONSTRAINT "evaluations_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "metrics" ADD CONSTRAINT "metrics_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "artifacts_run_path" ON "artifacts" USING btree ("run_id","path");--> statement-breakpoint
CREATE UNIQUE INDEX "checkpoints_run_stage_step" ON "checkpoints" USING btree ("run_id","stage","step");--> statement-breakpoint
CREATE UNIQUE INDEX "datasets_run_name" ON "datasets" USING btree ("run_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "evaluation_examples_eval_example" ON "evaluation_examples" USING btree ("evaluation_id","example_id");--> statement-breakpoint
CREATE UNIQUE INDEX "evaluations_run_kind_model" ON "evaluations" USING btree ("run_id","kind","model");--> statement-breakpoint
CREATE UNIQUE INDEX "metrics_point" ON "metrics" USING btree ("run_id","stage","step","name");--> statement-breakpoint
CREATE INDEX "metrics_run_name" ON "metrics" USING btree ("run_id","name");