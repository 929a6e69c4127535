## Channels and methods
channel-portal = National portal
channel-mobile = Smart-device apps
channel-kiosk = Self-service kiosks
channel-counter = Service counters
channel-import = Earlier systems
method-debit = Debit card
method-credit = Credit card
method-wallet = Wallet
method-cash = Cash

## Months
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
period-range = { $from }–{ $to } { $year }
period-range-years = { $from } { $fromYear } – { $to } { $toYear }

## Reports
report-title = Collections, { $period }, compared with { $compare }
report-net = (net of refunds)
col-group = Group
col-amount = Amount (BHD)
col-count = Transactions
col-compare-amount = Earlier (BHD)
col-compare-count = Earlier transactions
col-growth = Value growth
col-multiple = Transactions ×
report-total = Total
growth-none = n/a

## The half-year statement
statement-lead = Electronic payments collected through Tahseel's channels in { $period } reached BHD { $millions } million, { $growth }% more than in the same months of { $compareYear }, paid in { $count } transactions through the national portal, smart-device apps and self-service kiosks.
statement-services = Use grew most for { $services }.
statement-service-item = { $name } ({ $multiple ->
    [2] about twice
   *[other] about { $multiple } times
})
statement-channel = { $channel } carried { $multiple ->
    [2] twice
   *[other] { $multiple } times
} as many transactions as a year earlier.
statement-list-and = { $first } and { $second }

## Charts
chart-thousands-bhd = Thousands of BHD

## Portal: frame
portal-name = Tahseel — National e-Payment Portal
portal-tagline = Pay government dues securely: traffic, justice, electricity and water, education and ID cards.
skip-to-content = Skip to main content
nav-label = Main menu
nav-home = Home
nav-account = My dues and payments
footer-secure = Card details are entered only on your bank's secure page; Tahseel never sees or stores card numbers.
bahrain-time = (Bahrain time)

## Portal: finding dues
home-title = Pay government dues
services-title = Services you can pay
lookup-by-payer = Find all dues by CPR
lookup-by-reference = Find a bill by its reference
field-payer = CPR or CR number
field-payer-hint = Nine digits for a CPR, such as 850101234
field-agency = Agency
field-reference = Bill reference
field-method = Pay with
field-from = From
field-to = To
field-name-en = Name in English
field-name-ar = Name in Arabic
action-find-dues = Find dues
action-find-bill = Find bill
dues-title = Dues to pay
dues-for = Open dues for { $payer }
dues-none = There is nothing to pay.
dues-caption = Tick the dues to pay in one payment.
col-pay = Reference
col-service = Service
col-due-date = Due date
line-amount = Amount
col-total-listed = Total of the dues listed
col-total = Total
col-fee = Card fee
col-reference = Reference
col-date = Date
col-state = Status
col-code = Code
col-name = Name
col-actions = Actions
action-pay = Continue to payment
pay-hint = You will enter your card on your bank's secure page, then come back here.

## Portal: payment outcome and receipts
status-title = Payment status
status-paid = Payment received. Thank you.
status-receipt-number = Receipt number { $number }
status-waiting = Waiting for the bank to confirm your payment. This page refreshes itself.
action-check-again = Check again
action-receipt = View and print the receipt
action-try-again = Try again
action-print = Print
state-created = Started
state-pending = Waiting for the bank
state-captured = Paid
state-declined = Declined
state-failed = Failed
state-expired = Expired
state-cancelled = Cancelled
reason-card_declined = The bank declined the card.
reason-insufficient_funds = The card has insufficient funds.
reason-authentication_failed = The card could not be verified.
reason-unknown_test_card = The bank declined the card.
reason-abandoned = The payment was not completed in time.
reason-acquirer_unavailable = The bank could not be reached.
reason-no_acquirer_session = The payment did not reach the bank.
receipt-title = Payment receipt
receipt-number = Receipt number
receipt-payer = Payer
receipt-paid-at = Paid at
receipt-method = Method
receipt-channel = Channel
receipt-kiosk = Kiosk
receipt-refunded = { $amount } of this payment was refunded.
receipt-refunded-label = Refunded
receipt-qr = QR code to verify this receipt
receipt-verify-hint = Scan the code or open this address to check that the receipt is genuine:
verify-title = Receipt verification
verify-good = This receipt is genuine: Tahseel recorded this payment.
verify-bad = This receipt could not be verified.
verify-bad-hint = The code is not one Tahseel issued, or it was changed. Ask the payer for the original receipt.

## Portal: sign-in and account
sign-in = Sign in
sign-in-why = with your national identity to see all your dues and past payments.
sign-out = Sign out
signed-in-as = Signed in as { $name }
account-title = My dues and payments
account-dues = Dues
account-payments = Past payments
account-no-payments = No payments yet.

## Kiosks
kiosk-title = Kiosk
kiosk-welcome = Welcome. Pay your government dues here.
kiosk-not-activated = This kiosk is not activated. A technician enters the kiosk's key once.
kiosk-key = Kiosk key
kiosk-activate = Activate
kiosk-bad-key = That key is not valid for any kiosk.
kiosk-pay-card = Pay by card
kiosk-pay-cash = Pay in cash
kiosk-cash-inserted = Cash inserted (BHD)
kiosk-cash-hint = Insert notes and coins; the amount counted appears here.
kiosk-cash-invalid = The cash amount could not be read.
kiosk-cash-short = Not enough cash: insert at least { $amount }.
kiosk-change = Your change: { $amount }
kiosk-finish = Finish
kiosk-idle-note = The screen clears itself after { $seconds } seconds without a touch.

## Admin area
admin-title = Administration
admin-key = Admin API key
admin-bad-key = That is not an admin key.
admin-payments = Payment search
admin-agencies = Agencies
admin-services = Services
admin-kiosks = Kiosks
admin-keys = API keys
admin-add-agency = Add an agency
admin-add-kiosk = Add a kiosk
admin-add-key = Issue an API key
admin-key-admin = Hub administrator
admin-key-prefix = Key
admin-key-role = Role
admin-active = Active
admin-revoked = Revoked
admin-shown-once = Copy it now: it is not shown again.
admin-kiosk-key = Key for kiosk { $kiosk }
admin-new-key = New { $role } key
action-add = Add
action-revoke = Revoke
action-search = Search
action-export-csv = Export all as CSV
action-next-page = Next page

## Errors shown on pages
error-title = Something needs your attention
error-not_found = We could not find that. Check the reference and try again.
error-internal = Something went wrong on our side. Please try again in a minute.
error-invalid_payer = That is not a CPR or CR number. A CPR has nine digits, such as 850101234.
error-bill_not_payable = This bill cannot be paid now: it is already paid, cancelled or expired.
error-bill_payment_in_progress = A payment for this bill is already in progress. Wait a few minutes and look again.
error-idempotency_key_reused = This form was already sent with other choices. Go back, reload the page and try again.
error-acquirer_unavailable = The bank could not be reached. Nothing was charged; please try again.
error-agency_unavailable = The agency's system did not answer. Please try again in a few minutes.
error-basket = The form was damaged. Reload the page and try again.
error-basket-empty = Tick at least one due to pay.
error-no-receipt = A receipt exists once a payment is complete.
error-names = Give both the English and the Arabic name.
error-signin-off = Sign-in is not available on this portal; you can still pay by reference.
error-signin-unavailable = The national identity service did not answer. Try again, or pay by reference.
error-signin-failed = Sign-in did not complete. Please try again.
admin-add-service = Add a service
admin-service-kind = Kind
admin-service-bill = Bills the agency issues
admin-service-fee = A fixed fee
admin-service-fee-amount = Fee (BHD), for a fixed fee
admin-service-partial = Bills may be paid in parts
kiosk-still-there = Are you still there? The screen will clear in 15 seconds.
kiosk-continue = Continue
