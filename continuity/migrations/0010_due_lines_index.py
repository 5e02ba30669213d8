from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_fulfilment')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='ContinuityLine',
            name=None,
            fields=['status', 'planned_ship_date'],
        ),
        ops.AddIndex(
            model_name='ContinuityLine',
            index=Index(fields=['status', 'planned_ship_date', 'continuity_order_id']),
        ),
    ]
