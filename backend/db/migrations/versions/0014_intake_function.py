"""the webhooks' write as a PostgreSQL function

``gopy_store_inbound(now, citizens, messages)`` stores a batch of webhook events: the new senders, then the
messages (each once, on the unique platform id), and answers every event of the batch with its message id, its
citizen id and whether it was stored before. It is what ``backend/services/intake_pg.py`` sent as one simple query
of two statements; as a function it is called as a prepared statement with three parameters, so PostgreSQL neither
parses nor plans it again for every batch (PL/pgSQL keeps the plans of its statements per connection) and the batch
is not quoted into the query text by the client. Measured: about a third less PostgreSQL CPU per stored event
(docs/capacity.md). Each statement still takes its own snapshot: a sender created by another transaction that
committed meanwhile is seen by the messages' statement. SQLite has no functions: it keeps the session's write.

The index ``ix_messages_pending (direction, processed_at)`` is dropped: nothing has read it since the backlog's
partial indexes (migration 0011), every stored message paid for its entry, and it was the one index besides the
unique key that the redelivery check could use; a plan cached while the table was empty chose it and then read every
inbound message for each event (measured: 26 ms per event at 4,000 messages).

Every lookup is a ``LATERAL ... LIMIT 1`` subquery, which the planner cannot turn into a join: an index probe per
event whatever the statistics say (a table that grew fast since its last ANALYZE looked small, and a hash join then
read every stored message, 10 ms per batch at 50,000 messages; ``tests/backend/services/test_intake_pg.py`` checks
the plans).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION gopy_store_inbound(p_now timestamptz, p_citizens json, p_messages json)
RETURNS TABLE (stored_id integer, stored_channel text, stored_platform_id text, stored_citizen_id integer,
               stored_before boolean)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_bitmapscan = off  -- index probes even in plans made while the tables were empty
AS $body$
BEGIN
    -- new senders only: a known sender's row is neither written nor locked, one created meanwhile by another
    -- transaction is left to the conflict clause
    INSERT INTO citizens (channel, platform_user_id, chat_id, display_name, last_inbound_at, created_at)
    SELECT i.channel, i.user_id, i.chat_id, i.display_name, p_now, p_now
    FROM json_to_recordset(p_citizens) AS i(channel text, user_id text, chat_id text, display_name text)
    LEFT JOIN LATERAL (
        SELECT 1 AS known FROM citizens c WHERE c.channel = i.channel AND c.platform_user_id = i.user_id LIMIT 1
    ) k ON true
    WHERE k.known IS NULL
    ON CONFLICT ON CONSTRAINT uq_citizens_channel_user DO NOTHING;

    -- the messages in arrival order (ids follow it: a chat's messages are processed by id), then the copies already
    -- stored (redeliveries), read from the snapshot taken before this statement's own rows
    RETURN QUERY
    WITH i AS (
        SELECT * FROM ROWS FROM (
            json_to_recordset(p_messages) AS (channel text, platform_id text, user_id text, kind text, text text,
                                              data json)
        ) WITH ORDINALITY AS i(channel, platform_id, user_id, kind, text, data, ord)
    ), added AS (
        INSERT INTO messages AS m (channel, direction, platform_message_id, citizen_id, kind, text, data,
                                   process_attempts, created_at)
        SELECT i.channel, 'in', i.platform_id, c.id, i.kind, i.text, i.data, 0, p_now
        FROM i CROSS JOIN LATERAL (
            SELECT c.id FROM citizens c WHERE c.channel = i.channel AND c.platform_user_id = i.user_id LIMIT 1
        ) c
        ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT uq_messages_platform_id DO NOTHING
        RETURNING m.id, m.channel, m.platform_message_id, m.citizen_id
    )
    SELECT a.id, a.channel::text, a.platform_message_id::text, a.citizen_id, false FROM added a
    UNION ALL
    SELECT o.id, o.channel::text, o.platform_message_id::text, o.citizen_id, true
    FROM i CROSS JOIN LATERAL (
        SELECT m.id, m.channel, m.platform_message_id, m.citizen_id FROM messages m
        WHERE m.channel = i.channel AND m.direction = 'in' AND m.platform_message_id = i.platform_id LIMIT 1
    ) o;
END
$body$
"""


def upgrade() -> None:
    op.drop_index("ix_messages_pending", table_name="messages")
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(FUNCTION)  # as written: no bind parameters to find in it


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql("DROP FUNCTION IF EXISTS gopy_store_inbound(timestamptz, json, json)")
    op.create_index("ix_messages_pending", "messages", ["direction", "processed_at"], unique=False)
