CREATE TABLE effects (encounter_id text NOT NULL);
