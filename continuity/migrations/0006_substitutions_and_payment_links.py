from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_relative_source_paths')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrderItemSubstitution',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('continuity_order', fields.ForeignKeyField('models.ContinuityOrder', source_field='continuity_order_id', db_index=True, db_constraint=True, to_field='id', related_name='substitutions', on_delete=OnDelete.CASCADE)),
                ('from_product', fields.ForeignKeyField('models.Product', source_field='from_product_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('to_product', fields.ForeignKeyField('models.Product', source_field='to_product_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('price_minor', fields.BigIntField(null=True, description='What the new item costs on the order, or null to keep the price of the item it')),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'order_item_substitution', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A swap that belongs to the order: ``to_product`` ships instead of ``from_product`` on'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ContinuityOrder',
            name='anchor_run_start',
            field=fields.DateField(null=True, description='The anchor date continues a run of month gaps begun on this date (null: it starts one),'),
        ),
        ops.AddField(
            model_name='Payment',
            name='event_number',
            field=fields.IntField(null=True, description='Refunds of one skipped occurrence: which (event, repeat).'),
        ),
        ops.AddField(
            model_name='Payment',
            name='refund_of',
            field=fields.ForeignKeyField('models.Payment', source_field='refund_of_id', null=True, db_index=True, description='Refunds: the charge refunded (its gateway reference is what the gateway refunds).', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Payment',
            name='repeat_index',
            field=fields.IntField(null=True),
        ),
        # Tortoise adds the column but not the index its ``db_index`` declares (neither
        # backend), and creates a new table's indexes on PostgreSQL only: create both,
        # idempotently, with the names Tortoise generates (see 0003).
        ops.RunSQL(
            [
                'CREATE INDEX IF NOT EXISTS idx_payment_refund__51dce1 ON payment (refund_of_id)',
                'CREATE INDEX IF NOT EXISTS idx_order_item__continu_b938ec ON order_item_substitution (continuity_order_id)',
            ],
            reverse_sql=[
                'DROP INDEX IF EXISTS idx_payment_refund__51dce1',
                'DROP INDEX IF EXISTS idx_order_item__continu_b938ec',
            ],
        ),
    ]
