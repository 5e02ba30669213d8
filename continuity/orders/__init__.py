"""Order operations: placement, changes after placement, projections. Resolvers and jobs both
call these; nothing here knows about GraphQL."""
