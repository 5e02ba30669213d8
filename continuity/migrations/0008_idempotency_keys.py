from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_run_leases')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope', fields.CharField(description='Whose key: the caller it belongs to (``token:<key>``): keys of two callers never meet.', max_length=64)),
                ('key', fields.CharField(max_length=255)),
                ('operation', fields.CharField(description='The mutation it was first used with (``placeSalesOrder``).', max_length=64)),
                ('request_hash', fields.CharField(description="SHA-256 of the mutation's name and canonical input: a reuse with other input is refused.", max_length=64)),
                ('response', fields.TextField(null=True, description="The first response's payload as sent, in JSON text (null while the first request runs):", unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'idempotency_key', 'app': 'models', 'unique_together': (('scope', 'key'),), 'indexes': [Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': "One caller's key, claimed before its mutation runs (the unique ``(scope, key)`` lets"},
            bases=['Model'],
        ),
        # The sweep deletes by age: make sure the index exists on both engines, by the name
        # Tortoise gives it (see 0003). The unique (scope, key), which the claim of a key
        # relies on, is a table constraint on both.
        ops.RunSQL(
            ['CREATE INDEX IF NOT EXISTS idx_idempotency_created_98dcfd ON idempotency_key (created_at)'],
            reverse_sql=['DROP INDEX IF EXISTS idx_idempotency_created_98dcfd'],
        ),
    ]
