"""Statements and exports: a :class:`~portfolio_dashboard.domain.statement.Statement` rendered to PDF or a CSV
bundle, and tabular history exports to CSV or Parquet."""
