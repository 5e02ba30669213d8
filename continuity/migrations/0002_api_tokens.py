from tortoise import migrations
from tortoise.migrations import operations as ops
from continuity.enums import Role
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=16)),
                ('name', fields.CharField(max_length=100)),
                ('role', fields.CharEnumField(description='CUSTOMER: customer\nAGENT: agent\nMERCHANDISER: merchandiser\nOPERATOR: operator\nADMIN: admin', enum_type=Role, max_length=16)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', null=True, description='The one customer a ``customer`` token may see, null for every other role.', db_constraint=True, to_field='id', related_name='api_tokens', on_delete=OnDelete.RESTRICT)),
                ('secret_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
