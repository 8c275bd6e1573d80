"""PostgreSQL storage: migrations, the embedded server, repositories, the unit of work and read queries."""
