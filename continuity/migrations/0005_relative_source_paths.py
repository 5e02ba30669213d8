from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Program versions stored the path of their file as the loader was given it, often an
    absolute server path, and the API showed it to clients. Store it relative to the rules
    directory instead: every program file is ``programs/<program id>.yaml`` (the loader
    refuses any other name), so the old rows can be rewritten from the program's code."""

    dependencies = [('models', '0004_payment_gateways')]

    initial = False

    operations = [
        ops.RunSQL(
            [
                "UPDATE program_version SET source_path = 'programs/' || "
                "(SELECT program.code FROM program WHERE program.id = program_version.program_id)"
                " || '.yaml'",
            ],
            reverse_sql=ops.RunSQL.noop,
        ),
    ]
