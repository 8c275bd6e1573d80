from portfolio_dashboard.cli import main

main()
