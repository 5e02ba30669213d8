from tortoise import migrations
from tortoise.migrations import operations as ops
from continuity.enums import PaymentStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_foreign_key_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GatewayEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=255)),
                ('type', fields.CharField(max_length=64)),
                ('payment', fields.ForeignKeyField('models.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('outcome', fields.CharField(max_length=32)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'gateway_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A webhook event received from a payment gateway: recorded in the transaction that'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Payment',
            name='gateway_reference',
            field=fields.CharField(null=True, db_index=True, max_length=128),
        ),
        ops.AlterField(
            model_name='Payment',
            name='status',
            field=fields.CharEnumField(description='SCHEDULED: scheduled\nPENDING: pending\nSUCCEEDED: succeeded\nDECLINED: declined\nFAILED: failed\nCANCELLED: cancelled\nUNKNOWN: unknown\nEXPIRED: expired', enum_type=PaymentStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Payment',
            name='authorization_expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PaymentMethod',
            name='gateway_customer',
            field=fields.CharField(null=True, max_length=200),
        ),
        # As in 0003: on SQLite, altering a column of ``payment`` rebuilt the table without its
        # indexes. Recreate them (idempotently, with PostgreSQL's names) and the new one.
        ops.RunSQL(
            [
                'CREATE INDEX IF NOT EXISTS idx_payment_child_o_26f9cc ON payment (child_order_id)',
                'CREATE INDEX IF NOT EXISTS idx_payment_continu_ee55d3 ON payment (continuity_order_id)',
                'CREATE INDEX IF NOT EXISTS idx_payment_status_459c4b ON payment (status, due_date)',
                'CREATE INDEX IF NOT EXISTS idx_payment_gateway_0ddf2b ON payment (gateway_reference)',
            ],
            reverse_sql=[
                'DROP INDEX IF EXISTS idx_payment_gateway_0ddf2b',
            ],
        ),
    ]
