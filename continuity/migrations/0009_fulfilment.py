from tortoise import migrations
from tortoise.migrations import operations as ops
from continuity.enums import Role
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_idempotency_keys')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='ApiToken',
            name='role',
            field=fields.CharEnumField(description='CUSTOMER: customer\nAGENT: agent\nMERCHANDISER: merchandiser\nOPERATOR: operator\nFULFILMENT: fulfilment\nADMIN: admin', enum_type=Role, max_length=16),
        ),
        ops.AddField(
            model_name='CallCenterParameters',
            name='max_backdate_days',
            field=fields.IntField(default=60, description='How many days in the past an agent may date a sales order (mail and phone orders).'),
        ),
        ops.AddField(
            model_name='ChildOrder',
            name='carrier',
            field=fields.CharField(null=True, description='What the warehouse reported when it shipped (``markChildOrderShipped``).', max_length=64),
        ),
        ops.AddField(
            model_name='ChildOrder',
            name='invoice_number',
            field=fields.CharField(null=True, description='The invoice the fulfilment system issued (``invoiceChildOrder``).', max_length=64),
        ),
        ops.AddField(
            model_name='ChildOrder',
            name='planned_ship_date',
            field=fields.DateField(null=True, description="When the warehouse should ship it: its first line's planned date, or the run date for"),
        ),
        ops.AddField(
            model_name='ChildOrder',
            name='tracking_number',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='Customer',
            name='phone_digits',
            field=fields.CharField(null=True, description="The phone number's digits only: an agent's search finds ``(555) 010-2030`` as", max_length=32),
        ),
        # Existing rows: a child order's planned ship date is its first line's, or its run
        # date for overdue lines; a customer's phone digits are its phone without the rest
        # (spaces, dashes, dots, brackets, a leading +: the characters a phone may hold).
        ops.RunSQL(
            [
                "UPDATE child_order SET planned_ship_date = (SELECT CASE WHEN MIN(l.planned_ship_date) < child_order.created_for THEN child_order.created_for ELSE MIN(l.planned_ship_date) END FROM child_order_line cl JOIN continuity_line l ON l.id = cl.continuity_line_id WHERE cl.child_order_id = child_order.id) WHERE planned_ship_date IS NULL",
                "UPDATE customer SET phone_digits = NULLIF(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(phone, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), '+', ''), '/', ''), '') WHERE phone IS NOT NULL",
            ]
        ),
        # The pick list and the childOrders filter read child orders by planned date; the
        # agent's search finds customers by phone digits and e-mail (any case).
        ops.RunSQL(
            [
                'CREATE INDEX IF NOT EXISTS idx_child_order_planned_ship ON child_order (planned_ship_date, id)',
                'CREATE INDEX IF NOT EXISTS idx_customer_phone_digits ON customer (phone_digits)',
                'CREATE INDEX IF NOT EXISTS idx_customer_email_lower ON customer (LOWER(email))',
            ],
            reverse_sql=[
                'DROP INDEX IF EXISTS idx_child_order_planned_ship',
                'DROP INDEX IF EXISTS idx_customer_phone_digits',
                'DROP INDEX IF EXISTS idx_customer_email_lower',
            ],
        ),
    ]
