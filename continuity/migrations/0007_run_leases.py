from tortoise import migrations
from tortoise.migrations import operations as ops
from continuity.enums import JobRunStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_substitutions_and_payment_links')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='JobRun',
            name='status',
            field=fields.CharEnumField(default=JobRunStatus.RUNNING, description='RUNNING: running\nSUCCEEDED: succeeded\nPARTIAL: partial\nFAILED: failed\nINTERRUPTED: interrupted\nABANDONED: abandoned', enum_type=JobRunStatus, max_length=16),
        ),
        ops.AddField(
            model_name='JobRun',
            name='heartbeat_at',
            field=fields.DatetimeField(null=True, description='Written every few seconds while it runs (with its counts so far).', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='JobRun',
            name='owner',
            field=fields.CharField(null=True, description='The process running it (``continuity.jobs.liveness``): how a later run tells a live', max_length=200),
        ),
        ops.AddField(
            model_name='Payment',
            name='claimed_by_run',
            field=fields.ForeignKeyField('models.JobRun', source_field='claimed_by_run_id', null=True, db_index=True, description='The job run that claimed it for a gateway call (``status`` PENDING while in flight).', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        # SQLite rebuilt job_run to alter its status column, dropping its index, and neither
        # engine creates the index of an added foreign key: create both, idempotently.
        ops.RunSQL(
            [
                'CREATE INDEX IF NOT EXISTS idx_job_run_job_86ae53 ON job_run (job, as_of)',
                'CREATE INDEX IF NOT EXISTS idx_payment_claimed_by_run ON payment (claimed_by_run_id)',
            ]
        ),
    ]
