from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_api_tokens')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='ChildOrder',
            name='continuity_order',
            field=fields.ForeignKeyField('models.ContinuityOrder', source_field='continuity_order_id', db_index=True, db_constraint=True, to_field='id', related_name='child_orders', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='ChildOrder',
            name='job_run',
            field=fields.ForeignKeyField('models.JobRun', source_field='job_run_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AlterField(
            model_name='ChildOrderLine',
            name='child_order',
            field=fields.ForeignKeyField('models.ChildOrder', source_field='child_order_id', db_index=True, db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='ContinuityOrder',
            name='customer',
            field=fields.ForeignKeyField('models.Customer', source_field='customer_id', db_index=True, db_constraint=True, to_field='id', related_name='continuity_orders', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='Notification',
            name='continuity_order',
            field=fields.ForeignKeyField('models.ContinuityOrder', source_field='continuity_order_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='OrderHistoryEntry',
            name='continuity_order',
            field=fields.ForeignKeyField('models.ContinuityOrder', source_field='continuity_order_id', db_index=True, db_constraint=True, to_field='id', related_name='history', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='Payment',
            name='child_order',
            field=fields.ForeignKeyField('models.ChildOrder', source_field='child_order_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='Payment',
            name='continuity_order',
            field=fields.ForeignKeyField('models.ContinuityOrder', source_field='continuity_order_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.RESTRICT),
        ),
        # Tortoise's SQLite schema editor runs only the first statement of a CREATE TABLE
        # script, and it rebuilds a table to alter a column (dropping its
        # indexes), so the indexes and composite unique constraints that follow it were never
        # created on SQLite (PostgreSQL has them), nor the UNIQUE of one-to-one fields. Create every index the models declare,
        # idempotently, with the names PostgreSQL already uses.
        ops.RunSQL(
            [
                'CREATE INDEX IF NOT EXISTS idx_child_order_child_o_71efa3 ON child_order_line (child_order_id)',
                'CREATE INDEX IF NOT EXISTS idx_child_order_continu_04adf0 ON child_order (continuity_order_id)',
                'CREATE INDEX IF NOT EXISTS idx_child_order_job_run_037ae8 ON child_order (job_run_id)',
                'CREATE INDEX IF NOT EXISTS idx_child_order_status_6876d5 ON child_order (status, created_for)',
                'CREATE INDEX IF NOT EXISTS idx_continuity__custome_8f1d22 ON continuity_order (customer_id)',
                'CREATE INDEX IF NOT EXISTS idx_continuity__status_0f1f4f ON continuity_order (status, program_id)',
                'CREATE INDEX IF NOT EXISTS idx_continuity__status_61f5d0 ON continuity_line (status, planned_ship_date)',
                'CREATE INDEX IF NOT EXISTS idx_job_run_job_86ae53 ON job_run (job, as_of)',
                'CREATE INDEX IF NOT EXISTS idx_notificatio_continu_fc71a9 ON notification (continuity_order_id)',
                'CREATE INDEX IF NOT EXISTS idx_notificatio_status_5784de ON notification (status, next_attempt_at)',
                'CREATE INDEX IF NOT EXISTS idx_order_histo_continu_14dcaf ON order_history_entry (continuity_order_id)',
                'CREATE INDEX IF NOT EXISTS idx_payment_child_o_26f9cc ON payment (child_order_id)',
                'CREATE INDEX IF NOT EXISTS idx_payment_continu_ee55d3 ON payment (continuity_order_id)',
                'CREATE INDEX IF NOT EXISTS idx_payment_status_459c4b ON payment (status, due_date)',
                'CREATE UNIQUE INDEX IF NOT EXISTS uid_continuity__continu_e2d742 ON continuity_line (continuity_order_id, event_number, repeat_index, item_seq)',
                'CREATE UNIQUE INDEX IF NOT EXISTS uid_payment_sch_schedul_673255 ON payment_schedule_line (schedule_id, seq)',
                'CREATE UNIQUE INDEX IF NOT EXISTS uid_program_eve_event_i_257eeb ON program_event_item (event_id, seq)',
                'CREATE UNIQUE INDEX IF NOT EXISTS uid_program_eve_version_8ec59a ON program_event (version_id, number)',
                'CREATE UNIQUE INDEX IF NOT EXISTS uid_program_ver_program_3b65b5 ON program_version (program_id, number)',
                'CREATE UNIQUE INDEX IF NOT EXISTS uid_program_ver_version_ee22a3 ON program_version_schedule (version_id, schedule_id)',
                'CREATE UNIQUE INDEX IF NOT EXISTS uid_sales_order_sales_o_1365e0 ON sales_order_line (sales_order_id, line_number)',
                'CREATE UNIQUE INDEX IF NOT EXISTS child_order_line_continuity_line_id_key ON child_order_line (continuity_line_id)',
                'CREATE UNIQUE INDEX IF NOT EXISTS continuity_order_sales_line_id_key ON continuity_order (sales_line_id)',
            ],
            reverse_sql=[
                'DROP INDEX IF EXISTS idx_child_order_child_o_71efa3',
                'DROP INDEX IF EXISTS idx_child_order_continu_04adf0',
                'DROP INDEX IF EXISTS idx_child_order_job_run_037ae8',
                'DROP INDEX IF EXISTS idx_child_order_status_6876d5',
                'DROP INDEX IF EXISTS idx_continuity__custome_8f1d22',
                'DROP INDEX IF EXISTS idx_continuity__status_0f1f4f',
                'DROP INDEX IF EXISTS idx_continuity__status_61f5d0',
                'DROP INDEX IF EXISTS idx_job_run_job_86ae53',
                'DROP INDEX IF EXISTS idx_notificatio_continu_fc71a9',
                'DROP INDEX IF EXISTS idx_notificatio_status_5784de',
                'DROP INDEX IF EXISTS idx_order_histo_continu_14dcaf',
                'DROP INDEX IF EXISTS idx_payment_child_o_26f9cc',
                'DROP INDEX IF EXISTS idx_payment_continu_ee55d3',
                'DROP INDEX IF EXISTS idx_payment_status_459c4b',
                'DROP INDEX IF EXISTS uid_continuity__continu_e2d742',
                'DROP INDEX IF EXISTS uid_payment_sch_schedul_673255',
                'DROP INDEX IF EXISTS uid_program_eve_event_i_257eeb',
                'DROP INDEX IF EXISTS uid_program_eve_version_8ec59a',
                'DROP INDEX IF EXISTS uid_program_ver_program_3b65b5',
                'DROP INDEX IF EXISTS uid_program_ver_version_ee22a3',
                'DROP INDEX IF EXISTS uid_sales_order_sales_o_1365e0',
                'DROP INDEX IF EXISTS child_order_line_continuity_line_id_key',
                'DROP INDEX IF EXISTS continuity_order_sales_line_id_key',
            ],
        ),
    ]
