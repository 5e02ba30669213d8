from tortoise import migrations
from tortoise.migrations import operations as ops

#: Migration 0003 created each composite unique constraint as an index with PostgreSQL's
#: name. On SQLite the tables created by 0001 already held it as a table constraint (its
#: index ``sqlite_autoindex_<table>_N``), so those tables kept two identical unique indexes:
#: every insert of a continuity line or a sales-order line wrote both, and the largest table
#: stored its key twice. Each index of 0003 is dropped where SQLite already has a unique
#: index on the same columns; PostgreSQL (one index per constraint) is left as it is.
DUPLICATES = {
    'uid_continuity__continu_e2d742': ('continuity_line', ('continuity_order_id', 'event_number', 'repeat_index', 'item_seq')),
    'uid_payment_sch_schedul_673255': ('payment_schedule_line', ('schedule_id', 'seq')),
    'uid_program_eve_event_i_257eeb': ('program_event_item', ('event_id', 'seq')),
    'uid_program_eve_version_8ec59a': ('program_event', ('version_id', 'number')),
    'uid_program_ver_program_3b65b5': ('program_version', ('program_id', 'number')),
    'uid_program_ver_version_ee22a3': ('program_version_schedule', ('version_id', 'schedule_id')),
    'uid_sales_order_sales_o_1365e0': ('sales_order_line', ('sales_order_id', 'line_number')),
}


async def _unique_elsewhere(client, name: str, table: str, columns: tuple[str, ...]) -> bool:
    """Whether another unique index of ``table`` has exactly ``columns``."""
    _, indexes = await client.execute_query(f'PRAGMA index_list("{table}")')
    for index in indexes:
        if not index['unique'] or index['name'] == name or index['partial']:
            continue
        _, info = await client.execute_query(f'PRAGMA index_info("{index["name"]}")')
        if tuple(row['name'] for row in sorted(info, key=lambda row: row['seqno'])) == columns:
            return True
    return False


async def drop_duplicates(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != 'sqlite':
        return
    for name, (table, columns) in DUPLICATES.items():
        if await _unique_elsewhere(client, name, table, columns):
            await client.execute_script(f'DROP INDEX IF EXISTS "{name}"')


async def recreate(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != 'sqlite':
        return
    for name, (table, columns) in DUPLICATES.items():
        listed = ', '.join(columns)
        await client.execute_script(f'CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} ({listed})')


class Migration(migrations.Migration):
    dependencies = [('models', '0010_due_lines_index')]

    initial = False

    operations = [ops.RunPython(drop_duplicates, recreate)]
