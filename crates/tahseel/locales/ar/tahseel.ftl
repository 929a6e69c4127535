## القنوات ووسائل الدفع
channel-portal = البوابة الوطنية
channel-mobile = تطبيقات الأجهزة الذكية
channel-kiosk = منصات الخدمة الذاتية
channel-counter = مكاتب الخدمة
channel-import = الأنظمة السابقة
method-debit = بطاقة الخصم
method-credit = بطاقة الائتمان
method-wallet = المحفظة الإلكترونية
method-cash = نقداً

## الأشهر
month-1 = يناير
month-2 = فبراير
month-3 = مارس
month-4 = أبريل
month-5 = مايو
month-6 = يونيو
month-7 = يوليو
month-8 = أغسطس
month-9 = سبتمبر
month-10 = أكتوبر
month-11 = نوفمبر
month-12 = ديسمبر
period-range = الفترة من { $from } حتى { $to } { $year }
period-range-years = الفترة من { $from } { $fromYear } حتى { $to } { $toYear }

## التقارير
report-title = التحصيل في { $period } مقارنة بـ { $compare }
report-net = (بعد خصم المبالغ المستردة)
col-group = البند
col-amount = المبلغ (د.ب)
col-count = المعاملات
col-compare-amount = الفترة السابقة (د.ب)
col-compare-count = معاملات الفترة السابقة
col-growth = نمو القيمة
col-multiple = أضعاف المعاملات
report-total = المجموع
growth-none = غير متاح

## البيان نصف السنوي
statement-lead = تجاوزت قيمة المدفوعات المالية المحصلة عبر قنوات الدفع الإلكترونية في { $period } { $millions } مليون دينار بحريني، بارتفاع نسبته { $growth }% مقارنة بذات الأشهر من عام { $compareYear }، دفعها المستفيدون عبر { $count } معاملة تمت من خلال البوابة الوطنية وتطبيقات الأجهزة الذكية ومنصات الخدمة الذاتية.
statement-services = وكان أكبر ارتفاع في استخدام { $services }.
statement-service-item = خدمة ({ $name }) { $multiple ->
    [two] بنحو الضعفين
    [few] بنحو { $multiple } أضعاف
   *[other] بنحو { $multiple } ضعفاً
}
statement-channel = وتضاعف عدد المعاملات عبر { $channel } { $multiple ->
    [two] مرتين
    [few] { $multiple } مرات
   *[other] { $multiple } مرة
} مقارنة بالفترة ذاتها من العام الماضي.
statement-list-and = { $first }، و{ $second }

## الرسوم البيانية
chart-thousands-bhd = بآلاف الدنانير

## Portal: frame
portal-name = تحصيل — بوابة الدفع الإلكتروني الوطنية
portal-tagline = ادفع المستحقات الحكومية بأمان: المرور والعدل والكهرباء والماء والتعليم وبطاقات الهوية.
skip-to-content = انتقل إلى المحتوى الرئيسي
nav-label = القائمة الرئيسية
nav-home = الرئيسية
nav-account = مستحقاتي ومدفوعاتي
footer-secure = تُدخل بيانات البطاقة في صفحة البنك الآمنة فقط؛ لا يرى تحصيل أرقام البطاقات ولا يحفظها.
bahrain-time = (بتوقيت البحرين)

## Portal: finding dues
home-title = دفع المستحقات الحكومية
services-title = الخدمات المتاحة للدفع
lookup-by-payer = البحث عن جميع المستحقات بالرقم الشخصي
lookup-by-reference = البحث عن فاتورة برقمها المرجعي
field-payer = الرقم الشخصي أو رقم السجل التجاري
field-payer-hint = الرقم الشخصي تسعة أرقام، مثل 850101234
field-agency = الجهة
field-reference = الرقم المرجعي للفاتورة
field-method = طريقة الدفع
field-from = من
field-to = إلى
field-name-en = الاسم بالإنجليزية
field-name-ar = الاسم بالعربية
action-find-dues = ابحث عن المستحقات
action-find-bill = ابحث عن الفاتورة
dues-title = المستحقات المطلوب دفعها
dues-for = المستحقات المفتوحة للرقم { $payer }
dues-none = لا توجد مستحقات للدفع.
dues-caption = اختر المستحقات التي تريد دفعها في عملية واحدة.
col-pay = الرقم المرجعي
col-service = الخدمة
col-due-date = تاريخ الاستحقاق
line-amount = المبلغ
col-total-listed = مجموع المستحقات المعروضة
col-total = المجموع
col-fee = رسوم البطاقة
col-reference = الرقم المرجعي
col-date = التاريخ
col-state = الحالة
col-code = الرمز
col-name = الاسم
col-actions = الإجراءات
action-pay = المتابعة إلى الدفع
pay-hint = ستُدخل بطاقتك في صفحة البنك الآمنة ثم تعود إلى هنا.

## Portal: payment outcome and receipts
status-title = حالة الدفع
status-paid = تم استلام الدفعة. شكراً لك.
status-receipt-number = رقم الإيصال { $number }
status-waiting = بانتظار تأكيد البنك لدفعتك. تتحدث هذه الصفحة تلقائياً.
action-check-again = تحقق مرة أخرى
action-receipt = عرض الإيصال وطباعته
action-try-again = حاول مرة أخرى
action-print = طباعة
state-created = بدأت
state-pending = بانتظار البنك
state-captured = مدفوعة
state-declined = مرفوضة
state-failed = فشلت
state-expired = انتهت مهلتها
state-cancelled = ملغاة
reason-card_declined = رفض البنك البطاقة.
reason-insufficient_funds = رصيد البطاقة غير كافٍ.
reason-authentication_failed = تعذر التحقق من البطاقة.
reason-unknown_test_card = رفض البنك البطاقة.
reason-abandoned = لم تكتمل الدفعة في الوقت المحدد.
reason-acquirer_unavailable = تعذر الاتصال بالبنك.
reason-no_acquirer_session = لم تصل الدفعة إلى البنك.
receipt-title = إيصال دفع
receipt-number = رقم الإيصال
receipt-payer = الدافع
receipt-paid-at = وقت الدفع
receipt-method = طريقة الدفع
receipt-channel = القناة
receipt-kiosk = الكشك
receipt-refunded = تم رد { $amount } من هذه الدفعة.
receipt-refunded-label = المبلغ المردود
receipt-qr = رمز الاستجابة السريعة للتحقق من هذا الإيصال
receipt-verify-hint = امسح الرمز أو افتح هذا العنوان للتأكد من صحة الإيصال:
verify-title = التحقق من الإيصال
verify-good = هذا الإيصال صحيح: سجّل تحصيل هذه الدفعة.
verify-bad = تعذر التحقق من هذا الإيصال.
verify-bad-hint = هذا الرمز لم يصدره تحصيل أو جرى تغييره. اطلب من الدافع الإيصال الأصلي.

## Portal: sign-in and account
sign-in = تسجيل الدخول
sign-in-why = بهويتك الوطنية لرؤية جميع مستحقاتك ومدفوعاتك السابقة.
sign-out = تسجيل الخروج
signed-in-as = مسجل الدخول باسم { $name }
account-title = مستحقاتي ومدفوعاتي
account-dues = المستحقات
account-payments = المدفوعات السابقة
account-no-payments = لا توجد مدفوعات بعد.

## Kiosks
kiosk-title = الكشك
kiosk-welcome = أهلاً بك. ادفع مستحقاتك الحكومية هنا.
kiosk-not-activated = هذا الكشك غير مفعّل. يُدخل الفني مفتاح الكشك مرة واحدة.
kiosk-key = مفتاح الكشك
kiosk-activate = تفعيل
kiosk-bad-key = هذا المفتاح غير صالح لأي كشك.
kiosk-pay-card = الدفع بالبطاقة
kiosk-pay-cash = الدفع نقداً
kiosk-cash-inserted = النقد المُدخل (د.ب)
kiosk-cash-hint = أدخل الأوراق النقدية والعملات؛ يظهر المبلغ المعدود هنا.
kiosk-cash-invalid = تعذرت قراءة المبلغ النقدي.
kiosk-cash-short = النقد غير كافٍ: أدخل { $amount } على الأقل.
kiosk-change = الباقي لك: { $amount }
kiosk-finish = إنهاء
kiosk-idle-note = تُمسح الشاشة تلقائياً بعد { $seconds } ثانية دون لمس.

## Admin area
admin-title = الإدارة
admin-key = مفتاح واجهة الإدارة
admin-bad-key = هذا ليس مفتاح إدارة.
admin-payments = البحث في المدفوعات
admin-agencies = الجهات
admin-services = الخدمات
admin-kiosks = الأكشاك
admin-keys = مفاتيح الواجهة البرمجية
admin-add-agency = إضافة جهة
admin-add-kiosk = إضافة كشك
admin-add-key = إصدار مفتاح
admin-key-admin = مدير المنصة
admin-key-prefix = المفتاح
admin-key-role = الدور
admin-active = فعّال
admin-revoked = ملغى
admin-shown-once = انسخه الآن: لن يظهر مرة أخرى.
admin-kiosk-key = مفتاح الكشك { $kiosk }
admin-new-key = مفتاح جديد ({ $role })
action-add = إضافة
action-revoke = إلغاء
action-search = بحث
action-export-csv = تصدير الكل بصيغة CSV
action-next-page = الصفحة التالية

## Errors shown on pages
error-title = يحتاج هذا إلى انتباهك
error-not_found = لم نعثر على ذلك. تحقق من الرقم المرجعي وحاول مرة أخرى.
error-internal = حدث خطأ من جهتنا. يرجى المحاولة بعد دقيقة.
error-invalid_payer = هذا ليس رقماً شخصياً أو رقم سجل تجاري. الرقم الشخصي تسعة أرقام، مثل 850101234.
error-bill_not_payable = لا يمكن دفع هذه الفاتورة الآن: إنها مدفوعة أو ملغاة أو منتهية.
error-bill_payment_in_progress = توجد دفعة جارية لهذه الفاتورة. انتظر بضع دقائق ثم تحقق مرة أخرى.
error-idempotency_key_reused = أُرسل هذا النموذج من قبل باختيارات أخرى. ارجع وأعد تحميل الصفحة وحاول مرة أخرى.
error-acquirer_unavailable = تعذر الاتصال بالبنك. لم يُخصم أي مبلغ؛ يرجى المحاولة مرة أخرى.
error-agency_unavailable = لم يستجب نظام الجهة. يرجى المحاولة بعد بضع دقائق.
error-basket = النموذج تالف. أعد تحميل الصفحة وحاول مرة أخرى.
error-basket-empty = اختر مستحقاً واحداً على الأقل للدفع.
error-no-receipt = يصدر الإيصال عند اكتمال الدفعة.
error-names = أدخل الاسم بالإنجليزية والعربية.
error-signin-off = تسجيل الدخول غير متاح في هذه البوابة؛ يمكنك الدفع بالرقم المرجعي.
error-signin-unavailable = لم تستجب خدمة الهوية الوطنية. حاول مرة أخرى أو ادفع بالرقم المرجعي.
error-signin-failed = لم يكتمل تسجيل الدخول. يرجى المحاولة مرة أخرى.
admin-add-service = إضافة خدمة
admin-service-kind = النوع
admin-service-bill = فواتير تصدرها الجهة
admin-service-fee = رسم ثابت
admin-service-fee-amount = الرسم (د.ب) للرسم الثابت
admin-service-partial = يمكن دفع الفواتير على أجزاء
kiosk-still-there = هل ما زلت هنا؟ ستُمسح الشاشة خلال 15 ثانية.
kiosk-continue = متابعة
