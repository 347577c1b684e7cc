-- The schema as SQLModel.metadata.create_all made it on postgresql before Alembic
-- (models of commit c1f25ab), and the old version record of
-- exam_server/scaleout/migrate.py. Frozen: tests/exam_server/test_migrations.py.

CREATE TABLE bank_calibration_run (
	id SERIAL NOT NULL,
	label VARCHAR(128) NOT NULL,
	scale VARCHAR(64) NOT NULL,
	calibrated_at DATE,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_bank_calibration_run_scale ON bank_calibration_run (scale);

CREATE TABLE bank_item_usage (
	item_id VARCHAR(64) NOT NULL,
	administered INTEGER NOT NULL,
	last_used_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (item_id)
);

CREATE TABLE bank_subtest (
	id SERIAL NOT NULL,
	code VARCHAR(32) NOT NULL,
	name VARCHAR NOT NULL,
	scoring VARCHAR NOT NULL,
	points_correct FLOAT NOT NULL,
	min_points INTEGER NOT NULL,
	max_points INTEGER NOT NULL,
	position INTEGER NOT NULL,
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_bank_subtest_code ON bank_subtest (code);

CREATE TABLE exam_audit (
	id SERIAL NOT NULL,
	at FLOAT NOT NULL,
	kind VARCHAR(40) NOT NULL,
	actor VARCHAR(120) NOT NULL,
	session_id INTEGER,
	attempt_id INTEGER,
	reason TEXT NOT NULL,
	data_json TEXT NOT NULL,
	prev_hash VARCHAR(64) NOT NULL,
	hash VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_exam_audit_attempt_id ON exam_audit (attempt_id);

CREATE INDEX ix_exam_audit_session_id ON exam_audit (session_id);

CREATE TABLE exam_audit_head (
	id INTEGER NOT NULL,
	last_id INTEGER NOT NULL,
	last_hash VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE exam_exam (
	id SERIAL NOT NULL,
	code VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	design_json TEXT NOT NULL,
	bank_json TEXT NOT NULL,
	items_json TEXT NOT NULL,
	n_items INTEGER NOT NULL,
	created_at FLOAT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (code)
);

CREATE TABLE exam_formation (
	id SERIAL NOT NULL,
	code VARCHAR(60) NOT NULL,
	agency VARCHAR(200) NOT NULL,
	position VARCHAR(200) NOT NULL,
	location VARCHAR(200) NOT NULL,
	openings INTEGER NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (code)
);

CREATE TABLE exam_presence (
	attempt_id SERIAL NOT NULL,
	last_seen_at FLOAT NOT NULL,
	PRIMARY KEY (attempt_id)
);

CREATE TABLE exam_site (
	id SERIAL NOT NULL,
	code VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (code)
);

CREATE TABLE exam_staff (
	id SERIAL NOT NULL,
	username VARCHAR(80) NOT NULL,
	name VARCHAR(200) NOT NULL,
	role VARCHAR(16) NOT NULL,
	password_hash VARCHAR(300) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (username)
);

CREATE TABLE bank_content_area (
	id SERIAL NOT NULL,
	subtest_id INTEGER NOT NULL,
	code VARCHAR(64) NOT NULL,
	name VARCHAR NOT NULL,
	position INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(subtest_id) REFERENCES bank_subtest (id)
);

CREATE UNIQUE INDEX ix_bank_content_area_code ON bank_content_area (code);

CREATE INDEX ix_bank_content_area_subtest_id ON bank_content_area (subtest_id);

CREATE TABLE exam_room (
	id SERIAL NOT NULL,
	site_id INTEGER NOT NULL,
	code VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	capacity INTEGER NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (site_id, code),
	FOREIGN KEY(site_id) REFERENCES exam_site (id)
);

CREATE INDEX ix_exam_room_site_id ON exam_room (site_id);

CREATE TABLE bank_item (
	item_id VARCHAR(64) NOT NULL,
	stem VARCHAR NOT NULL,
	stem_format VARCHAR NOT NULL,
	id SERIAL NOT NULL,
	version INTEGER NOT NULL,
	is_current BOOLEAN NOT NULL,
	subtest_id INTEGER NOT NULL,
	content_area_id INTEGER NOT NULL,
	status VARCHAR NOT NULL,
	n_options INTEGER NOT NULL,
	key INTEGER,
	points VARCHAR(64),
	enemy_group VARCHAR(64),
	source VARCHAR,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(subtest_id) REFERENCES bank_subtest (id),
	FOREIGN KEY(content_area_id) REFERENCES bank_content_area (id),
	CONSTRAINT uq_bank_item_version UNIQUE (item_id, version)
);

CREATE INDEX ix_bank_item_item_id ON bank_item (item_id);

CREATE INDEX ix_bank_item_subtest_id ON bank_item (subtest_id);

CREATE TABLE exam_session (
	id SERIAL NOT NULL,
	code VARCHAR(60) NOT NULL,
	exam_id INTEGER NOT NULL,
	room_id INTEGER NOT NULL,
	starts_at FLOAT NOT NULL,
	status VARCHAR(16) NOT NULL,
	token VARCHAR(16),
	opened_at FLOAT,
	closed_at FLOAT,
	PRIMARY KEY (id),
	UNIQUE (code),
	FOREIGN KEY(room_id) REFERENCES exam_room (id),
	FOREIGN KEY(exam_id) REFERENCES exam_exam (id)
);

CREATE INDEX ix_exam_session_exam_id ON exam_session (exam_id);

CREATE INDEX ix_exam_session_room_id ON exam_session (room_id);

CREATE TABLE exam_staff_room (
	id SERIAL NOT NULL,
	staff_id INTEGER NOT NULL,
	room_id INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(staff_id) REFERENCES exam_staff (id),
	FOREIGN KEY(room_id) REFERENCES exam_room (id),
	UNIQUE (staff_id, room_id)
);

CREATE INDEX ix_exam_staff_room_room_id ON exam_staff_room (room_id);

CREATE INDEX ix_exam_staff_room_staff_id ON exam_staff_room (staff_id);

CREATE TABLE bank_item_calibration (
	id SERIAL NOT NULL,
	item_pk INTEGER NOT NULL,
	run_id INTEGER NOT NULL,
	model VARCHAR(8) NOT NULL,
	a FLOAT,
	b FLOAT,
	c FLOAT,
	d FLOAT,
	t1 FLOAT,
	t2 FLOAT,
	t3 FLOAT,
	t4 FLOAT,
	t5 FLOAT,
	se_a FLOAT,
	se_b FLOAT,
	se_c FLOAT,
	se_d FLOAT,
	se_t1 FLOAT,
	se_t2 FLOAT,
	se_t3 FLOAT,
	se_t4 FLOAT,
	se_t5 FLOAT,
	sample_size INTEGER,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES bank_calibration_run (id),
	FOREIGN KEY(item_pk) REFERENCES bank_item (id)
);

CREATE INDEX ix_bank_item_calibration_item_pk ON bank_item_calibration (item_pk);

CREATE INDEX ix_bank_item_calibration_run_id ON bank_item_calibration (run_id);

CREATE TABLE bank_item_option (
	position INTEGER NOT NULL,
	text VARCHAR NOT NULL,
	id SERIAL NOT NULL,
	item_pk INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(item_pk) REFERENCES bank_item (id),
	CONSTRAINT uq_bank_option_position UNIQUE (item_pk, position)
);

CREATE INDEX ix_bank_item_option_item_pk ON bank_item_option (item_pk);

CREATE TABLE exam_candidate (
	id SERIAL NOT NULL,
	registration_number VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	category VARCHAR(40) NOT NULL,
	formation_id INTEGER,
	session_id INTEGER,
	birth_date VARCHAR(10),
	PRIMARY KEY (id),
	UNIQUE (registration_number),
	FOREIGN KEY(formation_id) REFERENCES exam_formation (id),
	FOREIGN KEY(session_id) REFERENCES exam_session (id)
);

CREATE INDEX ix_exam_candidate_formation_id ON exam_candidate (formation_id);

CREATE INDEX ix_exam_candidate_session_id ON exam_candidate (session_id);

CREATE TABLE exam_attempt (
	id SERIAL NOT NULL,
	session_id INTEGER NOT NULL,
	candidate_id INTEGER NOT NULL,
	status VARCHAR(16) NOT NULL,
	seed INTEGER NOT NULL,
	state_json TEXT NOT NULL,
	last_seq INTEGER NOT NULL,
	response_head VARCHAR(64) NOT NULL,
	terminal_id VARCHAR(80),
	terminal_released BOOLEAN NOT NULL,
	remaining_at_start FLOAT NOT NULL,
	running_since FLOAT,
	deadline_at FLOAT,
	last_seen_at FLOAT NOT NULL,
	started_at FLOAT NOT NULL,
	finished_at FLOAT,
	finish_reason VARCHAR(40),
	score_json TEXT,
	total_points FLOAT,
	passed BOOLEAN,
	pass_reason VARCHAR(300),
	PRIMARY KEY (id),
	FOREIGN KEY(candidate_id) REFERENCES exam_candidate (id),
	UNIQUE (session_id, candidate_id),
	FOREIGN KEY(session_id) REFERENCES exam_session (id)
);

CREATE INDEX ix_exam_attempt_candidate_id ON exam_attempt (candidate_id);

CREATE INDEX ix_exam_attempt_session_id ON exam_attempt (session_id);

CREATE INDEX ix_exam_attempt_status_deadline ON exam_attempt (status, deadline_at);

CREATE TABLE exam_checkin (
	id SERIAL NOT NULL,
	session_id INTEGER NOT NULL,
	candidate_id INTEGER NOT NULL,
	pin_mac VARCHAR(64) NOT NULL,
	issued_at FLOAT NOT NULL,
	issued_by VARCHAR(80) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (session_id, candidate_id),
	FOREIGN KEY(candidate_id) REFERENCES exam_candidate (id),
	FOREIGN KEY(session_id) REFERENCES exam_session (id)
);

CREATE INDEX ix_exam_checkin_candidate_id ON exam_checkin (candidate_id);

CREATE INDEX ix_exam_checkin_session_id ON exam_checkin (session_id);

CREATE TABLE exam_response (
	id SERIAL NOT NULL,
	attempt_id INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	kind VARCHAR(8) NOT NULL,
	number INTEGER NOT NULL,
	item_id VARCHAR(80) NOT NULL,
	option INTEGER NOT NULL,
	flagged BOOLEAN NOT NULL,
	elapsed FLOAT NOT NULL,
	at FLOAT NOT NULL,
	prev_hash VARCHAR(64) NOT NULL,
	hash VARCHAR(64) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (attempt_id, seq),
	FOREIGN KEY(attempt_id) REFERENCES exam_attempt (id)
);

CREATE INDEX ix_exam_response_attempt_id ON exam_response (attempt_id);

CREATE TABLE IF NOT EXISTS seleksi_schema (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL);

INSERT INTO seleksi_schema (version, applied_at) VALUES (1, 1717200000.0);
