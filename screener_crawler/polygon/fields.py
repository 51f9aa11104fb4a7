"""The vendor's field glossary for financial statements, declared once.

Both generations of the fundamentals API are described here: the flat v1 endpoints
(``/stocks/financials/v1/*``), whose names are canonical in our datasets, and the nested vX
endpoint (``/vX/reference/financials``), whose concepts map onto v1 names where a twin exists
and otherwise keep their own name. The crawler's schemas and the sandbox both derive from this
module (see ``../shared/polygon/API.md`` §5.2-5.3).
"""

import pyarrow as pa

STATEMENTS = ("balance_sheets", "income_statements", "cash_flow")

TICKER_FIELD = pa.field("ticker", pa.string(), nullable=False)

STATEMENT_PERIOD_FIELDS = (
    pa.field("timeframe", pa.string(), nullable=False),
    pa.field("fiscal_year", pa.int64()),
    pa.field("fiscal_quarter", pa.int64()),
    pa.field("period_start", pa.date32()),
    pa.field("period_end", pa.date32(), nullable=False),
    pa.field("filing_date", pa.date32(), nullable=False),
)
"""Which period and which filing a statement row reports: the columns the statement datasets
and ``financial_ratios`` share."""

STATEMENT_SOURCE_FIELDS = (
    pa.field("fiscal_period", pa.string()),
    pa.field("sic", pa.string()),
    pa.field("source_filing_url", pa.string()),
    pa.field("source_filing_file_url", pa.string()),
    pa.field("acceptance_datetime", pa.timestamp("us", tz="UTC")),
)
"""What the API says about a statement row's source filing, kept as given: the fiscal period
(``Q1``..``Q4``, ``FY``, ``TTM``), the filer's SIC code, the filing's URL (its accession number
is the filing's identity) and its XBRL instance file, and when EDGAR accepted it (the API's
US/Eastern ``YYYYMMDDHHMMSS``, stored in UTC). vX records carry them; v1 records carry none of
them, so they are null on v1 rows."""

V1_LINE_ITEMS = {
    "balance_sheets": (
        "accounts_payable", "accrued_and_other_current_liabilities",
        "accumulated_other_comprehensive_income", "additional_paid_in_capital",
        "cash_and_equivalents", "commitments_and_contingencies", "common_stock", "debt_current",
        "deferred_revenue_current", "goodwill", "intangible_assets_net", "inventories",
        "long_term_debt_and_capital_lease_obligations", "noncontrolling_interest", "other_assets",
        "other_current_assets", "other_equity", "other_noncurrent_liabilities", "preferred_stock",
        "property_plant_equipment_net", "receivables", "retained_earnings_deficit",
        "short_term_investments", "total_assets", "total_current_assets",
        "total_current_liabilities", "total_equity", "total_equity_attributable_to_parent",
        "total_liabilities", "total_liabilities_and_equity", "treasury_stock",
    ),
    "income_statements": (
        "basic_earnings_per_share", "basic_shares_outstanding", "consolidated_net_income_loss",
        "cost_of_revenue", "depreciation_depletion_amortization", "diluted_earnings_per_share",
        "diluted_shares_outstanding", "discontinued_operations", "ebitda", "equity_in_affiliates",
        "extraordinary_items", "gross_profit", "income_before_income_taxes", "income_taxes",
        "interest_expense", "interest_income", "net_income_loss_attributable_common_shareholders",
        "noncontrolling_interest", "operating_income", "other_income_expense",
        "other_operating_expenses", "preferred_stock_dividends_declared", "research_development",
        "revenue", "selling_general_administrative", "total_operating_expenses",
        "total_other_income_expense",
    ),
    "cash_flow": (
        "cash_from_operating_activities_continuing_operations", "change_in_cash_and_equivalents",
        "change_in_other_operating_assets_and_liabilities_net",
        "depreciation_depletion_and_amortization", "dividends", "effect_of_currency_exchange_rate",
        "income_loss_from_discontinued_operations", "long_term_debt_issuances_repayments",
        "net_cash_from_financing_activities",
        "net_cash_from_financing_activities_continuing_operations",
        "net_cash_from_financing_activities_discontinued_operations",
        "net_cash_from_investing_activities",
        "net_cash_from_investing_activities_continuing_operations",
        "net_cash_from_investing_activities_discontinued_operations",
        "net_cash_from_operating_activities",
        "net_cash_from_operating_activities_discontinued_operations", "net_income",
        "noncontrolling_interests", "other_cash_adjustments", "other_financing_activities",
        "other_investing_activities", "other_operating_activities",
        "purchase_of_property_plant_and_equipment", "sale_of_property_plant_and_equipment",
        "short_term_debt_issuances_repayments",
    ),
}

V1_TIMEFRAMES = {
    "balance_sheets": ("quarterly", "annual"),
    "income_statements": ("quarterly", "annual", "trailing_twelve_months"),
    "cash_flow": ("quarterly", "annual", "trailing_twelve_months"),
}

VX_TIMEFRAMES = ("quarterly", "annual", "ttm")
"""vX spells trailing twelve months ``ttm``; v1 spells it ``trailing_twelve_months``."""

VX_TIMEFRAME_TO_V1 = {"quarterly": "quarterly", "annual": "annual", "ttm": "trailing_twelve_months"}

VX_STATEMENT_TO_DATASET = {
    "balance_sheet": "balance_sheets",
    "income_statement": "income_statements",
    "comprehensive_income": "income_statements",
    "cash_flow_statement": "cash_flow",
}

VX_CONCEPTS = {
    "balance_sheet": {
        "assets": "total_assets",
        "current_assets": "total_current_assets",
        "cash": "cash_and_equivalents",
        "accounts_receivable": "receivables",
        "inventory": "inventories",
        "prepaid_expenses": "prepaid_expenses",
        "other_current_assets": "other_current_assets",
        "noncurrent_assets": "noncurrent_assets",
        "long_term_investments": "long_term_investments",
        "fixed_assets": "property_plant_equipment_net",
        "intangible_assets": "intangible_assets_net",
        "noncurrent_prepaid_expense": "noncurrent_prepaid_expense",
        "other_noncurrent_assets": "other_noncurrent_assets",
        "liabilities": "total_liabilities",
        "current_liabilities": "total_current_liabilities",
        "accounts_payable": "accounts_payable",
        "interest_payable": "interest_payable",
        "wages": "wages",
        "other_current_liabilities": "accrued_and_other_current_liabilities",
        "noncurrent_liabilities": "noncurrent_liabilities",
        "long_term_debt": "long_term_debt_and_capital_lease_obligations",
        "other_noncurrent_liabilities": "other_noncurrent_liabilities",
        "commitments_and_contingencies": "commitments_and_contingencies",
        "redeemable_noncontrolling_interest": "redeemable_noncontrolling_interest",
        "redeemable_noncontrolling_interest_common": "redeemable_noncontrolling_interest_common",
        "redeemable_noncontrolling_interest_other": "redeemable_noncontrolling_interest_other",
        "redeemable_noncontrolling_interest_preferred": "redeemable_noncontrolling_interest_preferred",
        "equity": "total_equity",
        "equity_attributable_to_noncontrolling_interest": "noncontrolling_interest",
        "equity_attributable_to_parent": "total_equity_attributable_to_parent",
        "temporary_equity": "temporary_equity",
        "temporary_equity_attributable_to_parent": "temporary_equity_attributable_to_parent",
        "liabilities_and_equity": "total_liabilities_and_equity",
    },
    "income_statement": {
        "revenues": "revenue",
        "benefits_costs_expenses": "benefits_costs_expenses",
        "cost_of_revenue": "cost_of_revenue",
        "cost_of_revenue_goods": "cost_of_revenue_goods",
        "cost_of_revenue_services": "cost_of_revenue_services",
        "costs_and_expenses": "costs_and_expenses",
        "gross_profit": "gross_profit",
        "gain_loss_on_sale_properties_net_tax": "gain_loss_on_sale_properties_net_tax",
        "nonoperating_income_loss": "total_other_income_expense",
        "operating_expenses": "total_operating_expenses",
        "selling_general_and_administrative_expenses": "selling_general_administrative",
        "depreciation_and_amortization": "depreciation_depletion_amortization",
        "research_and_development": "research_development",
        "other_operating_expenses": "other_operating_expenses",
        "operating_income_loss": "operating_income",
        "other_operating_income_expenses": "other_operating_income_expenses",
        "income_loss_before_equity_method_investments": "income_loss_before_equity_method_investments",
        "income_loss_from_continuing_operations_after_tax": "income_loss_from_continuing_operations_after_tax",
        "income_loss_from_continuing_operations_before_tax": "income_before_income_taxes",
        "income_loss_from_discontinued_operations_net_of_tax": "discontinued_operations",
        "income_loss_from_discontinued_operations_net_of_tax_adjustment_to_prior_year_gain_loss_on_disposal":
            "income_loss_from_discontinued_operations_net_of_tax_adjustment_to_prior_year_gain_loss_on_disposal",
        "income_loss_from_discontinued_operations_net_of_tax_during_phase_out":
            "income_loss_from_discontinued_operations_net_of_tax_during_phase_out",
        "income_loss_from_discontinued_operations_net_of_tax_gain_loss_on_disposal":
            "income_loss_from_discontinued_operations_net_of_tax_gain_loss_on_disposal",
        "income_loss_from_discontinued_operations_net_of_tax_provision_for_gain_loss_on_disposal":
            "income_loss_from_discontinued_operations_net_of_tax_provision_for_gain_loss_on_disposal",
        "income_loss_from_equity_method_investments": "equity_in_affiliates",
        "income_tax_expense_benefit": "income_taxes",
        "income_tax_expense_benefit_current": "income_tax_expense_benefit_current",
        "income_tax_expense_benefit_deferred": "income_tax_expense_benefit_deferred",
        "interest_and_debt_expense": "interest_and_debt_expense",
        "interest_and_dividend_income_operating": "interest_and_dividend_income_operating",
        "interest_expense_operating": "interest_expense",
        "interest_income_expense_after_provision_for_losses": "interest_income_expense_after_provision_for_losses",
        "interest_income_expense_operating_net": "interest_income_expense_operating_net",
        "noninterest_expense": "noninterest_expense",
        "noninterest_income": "noninterest_income",
        "provision_for_loan_lease_and_other_losses": "provision_for_loan_lease_and_other_losses",
        "net_income_loss": "consolidated_net_income_loss",
        "net_income_loss_attributable_to_noncontrolling_interest": "noncontrolling_interest",
        "net_income_loss_attributable_to_nonredeemable_noncontrolling_interest":
            "net_income_loss_attributable_to_nonredeemable_noncontrolling_interest",
        "net_income_loss_attributable_to_parent": "net_income_loss_attributable_to_parent",
        "net_income_loss_attributable_to_redeemable_noncontrolling_interest":
            "net_income_loss_attributable_to_redeemable_noncontrolling_interest",
        "net_income_loss_available_to_common_stockholders_basic": "net_income_loss_attributable_common_shareholders",
        "participating_securities_distributed_and_undistributed_earnings_loss_basic":
            "participating_securities_distributed_and_undistributed_earnings_loss_basic",
        "undistributed_earnings_loss_allocated_to_participating_securities_basic":
            "undistributed_earnings_loss_allocated_to_participating_securities_basic",
        "preferred_stock_dividends_and_other_adjustments": "preferred_stock_dividends_declared",
        "basic_earnings_per_share": "basic_earnings_per_share",
        "diluted_earnings_per_share": "diluted_earnings_per_share",
        "basic_average_shares": "basic_shares_outstanding",
        "diluted_average_shares": "diluted_shares_outstanding",
        "common_stock_dividends": "common_stock_dividends",
    },
    "comprehensive_income": {
        "comprehensive_income_loss": "comprehensive_income_loss",
        "comprehensive_income_loss_attributable_to_noncontrolling_interest":
            "comprehensive_income_loss_attributable_to_noncontrolling_interest",
        "comprehensive_income_loss_attributable_to_parent": "comprehensive_income_loss_attributable_to_parent",
        "other_comprehensive_income_loss": "other_comprehensive_income_loss",
        "other_comprehensive_income_loss_attributable_to_noncontrolling_interest":
            "other_comprehensive_income_loss_attributable_to_noncontrolling_interest",
        "other_comprehensive_income_loss_attributable_to_parent":
            "other_comprehensive_income_loss_attributable_to_parent",
    },
    "cash_flow_statement": {
        "net_cash_flow_from_operating_activities": "net_cash_from_operating_activities",
        "net_cash_flow_from_operating_activities_continuing": "cash_from_operating_activities_continuing_operations",
        "net_cash_flow_from_operating_activities_discontinued":
            "net_cash_from_operating_activities_discontinued_operations",
        "net_cash_flow_from_investing_activities": "net_cash_from_investing_activities",
        "net_cash_flow_from_investing_activities_continuing": "net_cash_from_investing_activities_continuing_operations",
        "net_cash_flow_from_investing_activities_discontinued":
            "net_cash_from_investing_activities_discontinued_operations",
        "net_cash_flow_from_financing_activities": "net_cash_from_financing_activities",
        "net_cash_flow_from_financing_activities_continuing": "net_cash_from_financing_activities_continuing_operations",
        "net_cash_flow_from_financing_activities_discontinued":
            "net_cash_from_financing_activities_discontinued_operations",
        "exchange_gains_losses": "effect_of_currency_exchange_rate",
        "net_cash_flow": "change_in_cash_and_equivalents",
        "net_cash_flow_continuing": "net_cash_flow_continuing",
        "net_cash_flow_discontinued": "net_cash_flow_discontinued",
    },
}
"""vX concept -> our column, per vX statement block. A column equal to a v1 line item is that
item's twin; any other column is a vX-only concept that keeps its own name."""


def statement_line_items(dataset):
    """Every numeric column of a statement dataset: v1 items first, then vX-only concepts."""
    columns = list(V1_LINE_ITEMS[dataset])
    for block, concepts in VX_CONCEPTS.items():
        if VX_STATEMENT_TO_DATASET[block] != dataset:
            continue
        columns.extend(c for c in concepts.values() if c not in columns)
    return tuple(columns)


def reported_line_items(source: str, dataset: str) -> frozenset:
    """The columns of ``dataset`` that rows from ``source`` (``"v1"`` or ``"vX"``) can carry at
    all: an absent one of these means the company reported nothing there; any other column is
    unknown on such a row, never zero."""
    if source == "vX":
        return frozenset(column for block, concepts in VX_CONCEPTS.items()
                         if VX_STATEMENT_TO_DATASET[block] == dataset for column in concepts.values())
    return frozenset(V1_LINE_ITEMS[dataset])
